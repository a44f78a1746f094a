/**
 * Estimates of a run's time and cost before it starts, from earlier runs of the same preset on the
 * same backend: the mean wall time per step of those that succeeded.
 */
import type {Ledger} from '../ledger/ledger.js';

export interface RunEstimate {
  basis: 'history' | 'no history';
  /** Runs the estimate is based on. */
  runs: number;
  secondsPerStep: number | null;
  steps: number | null;
  seconds: number | null;
  usd: number | null;
  pricePerHour: number;
  priceSource: string;
}

export function estimateRun(
  ledger: Ledger,
  q: {kind: string; preset?: string; backend: string; steps?: number | null; pricePerHour: number; priceSource: string},
): RunEstimate {
  const rows = ledger.runs.succeededLike({kind: q.kind, backend: q.backend, preset: q.preset});
  const perStep: number[] = [];
  const totals: number[] = [];
  for (const r of rows) {
    let total: number | undefined;
    try {
      total = (JSON.parse(r.summary_json) as {progress?: {totalSteps?: number}}).progress?.totalSteps;
    } catch {
      total = undefined;
    }
    const steps = r.last_step ?? total;
    const seconds = (Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000;
    if (steps && steps > 0 && seconds > 0) {
      perStep.push(seconds / steps);
      totals.push(total ?? steps);
    }
  }
  const base = {pricePerHour: q.pricePerHour, priceSource: q.priceSource};
  if (perStep.length === 0) return {basis: 'no history', runs: 0, secondsPerStep: null, steps: q.steps ?? null, seconds: null, usd: null, ...base};
  const mean = perStep.reduce((a, b) => a + b, 0) / perStep.length;
  const steps = q.steps ?? Math.round(totals.reduce((a, b) => a + b, 0) / totals.length);
  const seconds = mean * steps;
  return {basis: 'history', runs: perStep.length, secondsPerStep: mean, steps, seconds, usd: (seconds / 3600) * q.pricePerHour, ...base};
}
