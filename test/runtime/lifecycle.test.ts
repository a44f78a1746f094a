/**
 * A run's life beyond the happy path, through the real CLI and real processes: the CLI killed with
 * -9, the trainer killed with -9, stop then resume, a budget that stops a run.
 */
import {describe, expect, it} from 'vitest';
import {runCli, spawnCli} from '../helpers/cli.js';
import {latestRun, makeProject, maxStep, waitFinal, waitFor, withLedger} from './helpers.js';
import {sqlite} from '../helpers/sqlite.js';

// Long enough to still be running when the test acts on it; the tests never wait for the end.
const LONG = ['--max-steps', '100000'];

describe('run lifecycle (real trainer and processes)', () => {
  it('the attached CLI killed with -9: the supervisor carries on and the run is recorded succeeded', async () => {
    const p = makeProject();
    const cli = spawnCli(['train', '--max-steps', '30'], {cwd: p.dir});
    const run = await waitFor('the run to start', () => {
      const r = latestRun(p.dbFile);
      return r && r.status === 'running' ? r : undefined;
    });
    cli.kill('SIGKILL');
    const final = await waitFinal(p.dbFile, run.id);
    expect(final.status).toBe('succeeded');
    expect(maxStep(p.dbFile, run.id)).toBe(30);
  });

  it('the trainer killed with -9: the run fails with the signal and the last log lines', async () => {
    const p = makeProject();
    const r = await runCli(['train', ...LONG, '--detach', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.detached).toBe(true);
    const id = r.json.id as string;
    await waitFor('a few steps', () => maxStep(p.dbFile, id) >= 3, 60_000);
    const pgid = Number(withLedger(p.dbFile, (l) => l.getRun(id).backend_ref));
    process.kill(-pgid, 'SIGKILL');
    const final = await waitFinal(p.dbFile, id);
    expect(final.status).toBe('failed');
    expect(final.signal).toBe('SIGKILL');
    expect(final.reason).toContain('killed by SIGKILL');
    expect(final.reason).toMatch(/last log lines:\n\d{4}-\d\d-\d\dT[\d:.]+Z /);
  });

  it('runs stop checkpoints and stops the run; --resume continues from that step as a linked run', async () => {
    const p = makeProject({overrides: {checkpoint_every: 1000}});
    const r = await runCli(['train', ...LONG, '--detach', '--json'], {cwd: p.dir});
    const id = r.json.id as string;
    await waitFor('a few steps', () => maxStep(p.dbFile, id) >= 5, 60_000);
    const stop = await runCli(['runs', 'stop', id, '--json'], {cwd: p.dir});
    expect(stop.code, stop.stderr + stop.stdout).toBe(0);
    expect(stop.json.status).toBe('stopped');
    expect(stop.json.via).toBe('supervisor');
    const ckpt = withLedger(p.dbFile, (l) => l.events(id).filter((e) => e.type === 'checkpoint').map((e) => JSON.parse(e.data_json)).at(-1));
    expect(ckpt.step).toBeGreaterThanOrEqual(5);

    const resumed = await runCli(['train', '--resume', id, '--max-steps', String(ckpt.step + 5), '--json'], {cwd: p.dir});
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(resumed.json.status).toBe('succeeded');
    expect(resumed.json.parentRunId).toBe(id);
    withLedger(p.dbFile, (l) => {
      const steps = l.metricSeries(resumed.json.id, 'loss').map((m) => m.step);
      expect(steps[0]).toBeGreaterThan(ckpt.step);
      expect(steps.at(-1)).toBe(ckpt.step + 5);
      const lineage = JSON.parse(l.getRun(resumed.json.id).lineage_json);
      expect(lineage.parent_relation).toBe('resumed');
      expect(lineage.resume_from).toBe(ckpt.path);
    });
  });

  it('a --budget with price_per_hour set stops the run gracefully: budget_exceeded, exit 6', async () => {
    // $3600/h = $1 per second: a $4 budget runs out a few seconds in.
    const p = makeProject({yaml: 'backends:\n  local: {type: local, price_per_hour: 3600, price_source: test price}\n'});
    const t0 = Date.now();
    const r = await runCli(['train', ...LONG, '--budget', '4', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(6);
    expect(r.json.status).toBe('budget_exceeded');
    expect(r.json.reason).toMatch(/reached the budget \$4/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    withLedger(p.dbFile, (l) => {
      const cost = l.runCost(r.json.id);
      // Stopped within a sampling interval (0.5 s = $0.50) plus the trainer's checkpoint on SIGTERM.
      expect(cost.usd).toBeGreaterThanOrEqual(4);
      expect(cost.usd).toBeLessThan(4 + 10);
      const entries = sqlite(l).prepare('SELECT price_per_hour, price_source FROM cost_entries WHERE run_id = ? AND phase != ?').all(r.json.id, 'queue') as any[];
      expect(entries.every((e) => e.price_per_hour === 3600 && e.price_source === 'test price')).toBe(true);
    });
  });

  it('budget.monthly_usd refuses a launch whose estimate exceeds what is left, unless --force', async () => {
    const p = makeProject({budgetYaml: '  monthly_usd: 1\n', yaml: 'backends:\n  local: {type: local, price_per_hour: 3600}\n'});
    withLedger(p.dbFile, (l) => l.addCost({stage: 'train', phase: 'run', backend: 'local', resource: 'cpu', seconds: 3600, pricePerHour: 2, priceSource: 'earlier'}));
    const r = await runCli(['train', '--max-steps', '5', '--json'], {cwd: p.dir});
    expect(r.code).toBe(6);
    expect(r.json.error.code).toBe('BUDGET_EXCEEDED');
    expect(r.json.error.fix).toContain('--force');
    expect(withLedger(p.dbFile, (l) => l.countRuns())).toBe(0);
    const forced = await runCli(['train', '--max-steps', '3', '--force', '--json'], {cwd: p.dir});
    expect(forced.json.status, forced.stderr).toBe('succeeded');
  });
});
