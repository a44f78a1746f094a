/**
 * Following a run from the CLI: polls the ledger (which the supervisor keeps current) and turns
 * the run row into what a user watches: step/total, loss, tokens/s, ETA and dollars so far.
 */
import {FINAL_STATUSES, type Ledger, type RunRow} from '../ledger/ledger.js';
import {formatUsd} from '../util/format.js';
import {formatDuration, sleep} from '../util/time.js';
import {progressOf} from './supervisor.js';

export interface RunView {
  id: string;
  status: string;
  step: number;
  totalSteps: number | null;
  loss: number | null;
  tokensPerS: number | null;
  etaS: number | null;
  usd: number;
  phase: string | null;
}

export class ViewTracker {
  private firstStep?: {step: number; at: number};

  view(run: RunRow, now = Date.now()): RunView {
    const p = progressOf(run);
    let usd = 0;
    let phase: string | null = null;
    try {
      const s = JSON.parse(run.summary_json) as {cost_usd?: number; phase?: string};
      usd = s.cost_usd ?? 0;
      phase = s.phase ?? null;
    } catch {
      // keep zeros
    }
    if (p.step > 0 && (!this.firstStep || p.step < this.firstStep.step)) this.firstStep ??= {step: p.step, at: now};
    let etaS: number | null = null;
    if (this.firstStep && p.totalSteps && p.step > this.firstStep.step) {
      const rate = (p.step - this.firstStep.step) / ((now - this.firstStep.at) / 1000);
      if (rate > 0) etaS = Math.max(0, (p.totalSteps - p.step) / rate);
    }
    return {
      id: run.id,
      status: run.status,
      step: p.step,
      totalSteps: p.totalSteps ?? null,
      loss: p.last.loss ?? null,
      tokensPerS: p.last.tokens_per_s ?? null,
      etaS,
      usd,
      phase,
    };
  }
}

export function formatView(v: RunView): string {
  const parts = [`${v.id} ${v.status}`];
  if (v.status === 'queued' || (v.step === 0 && v.phase !== 'run')) parts.push(v.phase === 'queue' ? 'queued' : 'starting');
  else parts.push(`step ${v.step}${v.totalSteps ? `/${v.totalSteps}` : ''}`);
  if (v.loss !== null) parts.push(`loss ${v.loss.toFixed(4)}`);
  if (v.tokensPerS !== null) parts.push(`${Math.round(v.tokensPerS).toLocaleString('en-US')} tok/s`);
  if (v.etaS !== null) parts.push(`ETA ${formatDuration(v.etaS * 1000)}`);
  parts.push(formatUsd(v.usd));
  return parts.join('  ');
}

/** Polls until the run reaches a final status (or `until` says stop); calls onUpdate on each poll. */
export async function followRun(
  ledger: Ledger,
  runId: string,
  opts: {pollMs?: number; onUpdate?: (run: RunRow) => void; until?: () => boolean} = {},
): Promise<RunRow> {
  const pollMs = opts.pollMs ?? 250;
  let lastReconcile = 0;
  for (;;) {
    let run = ledger.getRun(runId);
    opts.onUpdate?.(run);
    if (FINAL_STATUSES.has(run.status)) return run;
    if (opts.until?.()) return run;
    // A supervisor that died would leave us waiting forever: check on it now and then.
    if (Date.now() - lastReconcile > 5000) {
      lastReconcile = Date.now();
      const {reconcileRuns} = await import('./reconcile.js');
      await reconcileRuns(ledger);
      run = ledger.getRun(runId);
      if (FINAL_STATUSES.has(run.status)) {
        opts.onUpdate?.(run);
        return run;
      }
    }
    await sleep(pollMs);
  }
}
