/**
 * `monitor --run ID`: the curves, speed, GPU use and cost of a training run, and stall detection.
 *
 * A run is stalled when it is running and no metric step arrived for monitor.stall_after_s (or,
 * before its first step, that long since it started). The first time, runs.stalled_at is set and a
 * "stalled" event appended; when steps come back, stalled_at is cleared and "resumed" appended, so
 * the ledger tells when a GPU sat idle and still cost money.
 */
import {FINAL_STATUSES, type Ledger, type RunRow} from '../ledger/ledger.js';
import {nowIso} from '../util/time.js';

export interface Point {
  step: number;
  value: number;
}

export interface RunMonitor {
  run: {
    id: string;
    kind: string;
    status: string;
    name: string | null;
    preset: string | null;
    backend: string;
    dataset_id: string | null;
    parent_run_id: string | null;
    started_at: string | null;
    ended_at: string | null;
  };
  /** Last step seen in the metrics. */
  step: number | null;
  last_metric_at: string | null;
  /** Last value of each metric key. */
  last: Record<string, number>;
  curves: {loss: Point[]; val_loss: Point[]};
  tokens_per_s: number | null;
  gpu: {util: number | null; mem_mb: number | null; power_w: number | null};
  cost: {usd: number; budget_usd: number | null; budget_used: number | null};
  stall: {stalled: boolean; stalled_at: string | null; idle_s: number | null; stall_after_s: number; changed: 'stalled' | 'resumed' | null};
  finished: boolean;
}

/** Keeps at most `max` points, evenly spread, always with the last one (the latest value matters most). */
export function downsample(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const stride = (points.length - 1) / (max - 1);
  return Array.from({length: max}, (_, i) => points[Math.round(i * stride)]!);
}

export function runMonitor(ledger: Ledger, run: RunRow, opts: {stallAfterS: number; now?: number; maxPoints?: number; detectStall?: boolean}): RunMonitor {
  const now = opts.now ?? Date.now();
  const summary = ledger.metricSummary(run.id);
  const last = Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, v.last]));
  const lastTs = ledger.metrics.latest(run.id);
  const series = (key: string) => downsample(ledger.metricSeries(run.id, key).map(({step, value}) => ({step, value})), opts.maxPoints ?? 500);
  const cost = ledger.runCost(run.id);
  const stall = detectStall(ledger, run, lastTs.ts, opts.stallAfterS, now, opts.detectStall ?? true);
  return {
    run: {
      id: run.id,
      kind: run.kind,
      status: run.status,
      name: run.name,
      preset: run.preset,
      backend: run.backend,
      dataset_id: run.dataset_id,
      parent_run_id: run.parent_run_id,
      started_at: run.started_at,
      ended_at: run.ended_at,
    },
    step: lastTs.step,
    last_metric_at: lastTs.ts === null ? null : new Date(lastTs.ts).toISOString(),
    last,
    curves: {loss: series('loss'), val_loss: series('val_loss')},
    tokens_per_s: last.tokens_per_s ?? null,
    gpu: {util: last.gpu_util ?? null, mem_mb: last.gpu_mem_mb ?? null, power_w: last.gpu_power_w ?? null},
    cost: {
      usd: Math.round(cost.usd * 1e6) / 1e6,
      budget_usd: run.budget_usd,
      budget_used: run.budget_usd ? Math.round((cost.usd / run.budget_usd) * 1e4) / 1e4 : null,
    },
    stall,
    finished: FINAL_STATUSES.has(run.status),
  };
}

function detectStall(ledger: Ledger, run: RunRow, lastMetricTs: number | null, afterS: number, now: number, write: boolean): RunMonitor['stall'] {
  const base = {stall_after_s: afterS};
  if (run.status !== 'running') {
    return {...base, stalled: false, stalled_at: run.stalled_at, idle_s: null, changed: null};
  }
  const since = lastMetricTs ?? Date.parse(run.started_at ?? run.created_at);
  const idleS = Math.max(0, (now - since) / 1000);
  const stalled = idleS >= afterS;
  let changed: RunMonitor['stall']['changed'] = null;
  let stalledAt = run.stalled_at;
  if (write && stalled && !run.stalled_at) {
    stalledAt = nowIso();
    ledger.updateRun(run.id, {stalled_at: stalledAt});
    ledger.appendEvent(run.id, 'stalled', {idle_s: Math.round(idleS), stall_after_s: afterS, last_metric_ts: lastMetricTs});
    changed = 'stalled';
  } else if (write && !stalled && run.stalled_at) {
    ledger.updateRun(run.id, {stalled_at: null});
    ledger.appendEvent(run.id, 'resumed', {stalled_at: run.stalled_at});
    stalledAt = null;
    changed = 'resumed';
  }
  return {...base, stalled, stalled_at: stalledAt, idle_s: Math.round(idleS), changed};
}

export interface LineageRun {
  id: string;
  kind: string;
  status: string;
  preset: string | null;
  cost_usd: number;
  budget_usd: number | null;
  curves: {loss: Point[]; val_loss: Point[]};
}

/** The runs that produced a model: the model's run, then its base run(s) for a finetune. */
export function lineage(ledger: Ledger, runId: string | null, maxPoints = 300): LineageRun[] {
  const out: LineageRun[] = [];
  const seen = new Set<string>();
  let id = runId;
  while (id && !seen.has(id) && out.length < 8) {
    seen.add(id);
    const run = ledger.findRun(id);
    if (!run) break;
    const series = (key: string) => downsample(ledger.metricSeries(run.id, key).map(({step, value}) => ({step, value})), maxPoints);
    out.push({
      id: run.id,
      kind: run.kind,
      status: run.status,
      preset: run.preset,
      cost_usd: Math.round(ledger.runCost(run.id).usd * 1e6) / 1e6,
      budget_usd: run.budget_usd,
      curves: {loss: series('loss'), val_loss: series('val_loss')},
    });
    id = run.parent_run_id;
  }
  return out;
}
