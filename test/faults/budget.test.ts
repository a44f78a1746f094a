/**
 * Issue 15, item 5: a --budget covers every phase (setup included), the run stops gracefully
 * (checkpoint, exit 6) before the next interval would cross it, judged by measured seconds per
 * step; the message, the summary and the ledger say one figure; --dry-run says when its estimate
 * exceeds the budget. Real trainer, real CLI, a price of $3600/h ($1 a second).
 */
import {describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {makeProject, withLedger} from '../runtime/helpers.js';

const PRICED = 'backends:\n  local: {type: local, price_per_hour: 3600, price_source: test price}\n';

describe('--budget (real trainer, $1 a second)', () => {
  it('stops with a checkpoint and exit 6 within the budget, setup included, and says one figure everywhere', async () => {
    const p = makeProject({yaml: PRICED, overrides: {checkpoint_every: 100000}});
    const r = await runCli(['train', '--max-steps', '100000', '--budget', '12', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(6);
    expect(r.json.status).toBe('budget_exceeded');
    withLedger(p.dbFile, (l) => {
      const cost = l.runCost(r.json.id);
      expect(cost.byPhase.setup?.usd).toBeGreaterThan(0);
      expect(cost.usd).toBeLessThanOrEqual(12);
      const total = `$${cost.usd.toFixed(2)}`;
      expect(r.json.costUsd).toBeCloseTo(cost.usd, 6);
      expect(r.json.reason).toContain(`total cost ${total} of the $12.00 budget`);
      expect(JSON.parse(l.getRun(r.json.id).summary_json).cost_usd).toBeCloseTo(cost.usd, 6);
      // Gracefully: the trainer checkpointed on the way out.
      expect(l.events(r.json.id).some((e) => e.type === 'checkpoint')).toBe(true);
      const budgetEvent = l.events(r.json.id).find((e) => e.type === 'budget')!;
      expect(JSON.parse(budgetEvent.data_json).seconds_per_step).toBeGreaterThan(0);
    });
  });

  it('--dry-run says when the estimate exceeds the budget, and by how many steps', async () => {
    const p = makeProject({yaml: PRICED});
    const first = await runCli(['train', '--max-steps', '10', '--json'], {cwd: p.dir});
    expect(first.code, first.stderr).toBe(0);
    const dry = await runCli(['train', '--max-steps', '5000', '--budget', '3', '--dry-run'], {cwd: p.dir});
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/budget: the estimate \$[\d,.]+ EXCEEDS the budget \$3\.00: the run would be stopped \(checkpoint, exit 6\) after about \d+ of 5000 steps/);
    const json = await runCli(['train', '--max-steps', '5000', '--budget', '3', '--dry-run', '--json'], {cwd: p.dir});
    expect(json.json.estimateExceedsBudget).toBe(true);
    const fits = await runCli(['train', '--max-steps', '2', '--budget', '1000', '--dry-run', '--json'], {cwd: p.dir});
    expect(fits.json.estimateExceedsBudget).toBe(false);
  });
});
