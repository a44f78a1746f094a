/** What `runs show` and `runs compare` report about a run, from the ledger alone. */
import type {Ledger, RunRow} from '../ledger/ledger.js';
import {canonicalJson} from '../util/json.js';
import type {RunSpec} from './backend.js';

export interface RunDetail {
  id: string;
  kind: string;
  status: string;
  name: string | null;
  reason: string | null;
  backend: string;
  backendType: string;
  preset: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationS: number | null;
  exitCode: number | null;
  signal: string | null;
  runDir: string;
  budgetUsd: number | null;
  lineage: Record<string, unknown>;
  settings: Record<string, unknown>;
  metrics: Record<string, {count: number; last: number; lastStep: number; min: number; max: number}>;
  cost: {usd: number; seconds: number; byPhase: Record<string, {usd: number; seconds: number}>};
  artifacts: Array<{kind: string; path: string; sha256: string | null; sizeBytes: number | null; meta: Record<string, unknown>}>;
  events: {count: number; byType: Record<string, number>};
  parity: unknown;
  /** The newest value of each metric `llmops eval` measured on this run's model. */
  evals: EvalSummary[];
}

export interface EvalSummary {
  suite: string;
  metric: string;
  value: number | null;
  n: number | null;
  data: string | null;
  baseline: string | null;
  at: string;
}

function durationS(run: RunRow): number | null {
  if (!run.started_at) return null;
  const end = run.ended_at ? Date.parse(run.ended_at) : Date.now();
  return (end - Date.parse(run.started_at)) / 1000;
}

/** The settings that define a run (what compare diffs): the trainer spec, or the command. */
export function runSettings(run: RunRow): Record<string, unknown> {
  const spec = JSON.parse(run.spec_json) as RunSpec;
  if (spec.trainerSpec) {
    const {run_id: _id, run_dir: _dir, version: _v, ...rest} = spec.trainerSpec as Record<string, unknown>;
    return {...rest, backend: run.backend};
  }
  return {command: spec.command, backend: run.backend};
}

export function runDetail(ledger: Ledger, run: RunRow): RunDetail {
  const counts = ledger.runs.eventCounts(run.id);
  let parity: unknown = null;
  try {
    parity = (JSON.parse(run.summary_json) as {parity?: unknown}).parity ?? null;
  } catch {
    parity = null;
  }
  return {
    id: run.id,
    kind: run.kind,
    status: run.status,
    name: run.name,
    reason: run.reason,
    backend: run.backend,
    backendType: run.backend_type,
    preset: run.preset,
    createdAt: run.created_at,
    startedAt: run.started_at,
    endedAt: run.ended_at,
    durationS: durationS(run),
    exitCode: run.exit_code,
    signal: run.signal,
    runDir: run.run_dir,
    budgetUsd: run.budget_usd,
    lineage: JSON.parse(run.lineage_json) as Record<string, unknown>,
    settings: runSettings(run),
    metrics: ledger.metricSummary(run.id),
    evals: ledger.evals.latestForRun(run.id).map((e) => ({suite: e.suite, metric: e.metric, value: e.value, n: e.n, data: e.data, baseline: e.baseline, at: e.created_at})),
    cost: ledger.runCost(run.id),
    artifacts: ledger.artifacts(run.id).map((a) => ({
      kind: a.kind,
      path: a.path,
      sha256: a.sha256,
      sizeBytes: a.size_bytes,
      meta: JSON.parse(a.meta_json) as Record<string, unknown>,
    })),
    events: {count: Object.values(counts).reduce((s, n) => s + n, 0), byType: counts},
    parity,
  };
}

function flatten(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = obj;
  }
  return out;
}

export interface RunComparison {
  runs: Array<{id: string; status: string; kind: string; preset: string | null; durationS: number | null; costUsd: number}>;
  /** Settings that differ: key -> one value per run (in order). */
  configDiff: Record<string, unknown[]>;
  /** Per metric: last and best (min for loss-like keys, max otherwise) per run. */
  metrics: Record<string, Array<{last: number | null; best: number | null}>>;
}

const LOWER_IS_BETTER = /loss|ppl|perplexity|error|latency/i;

export function compareRuns(ledger: Ledger, runs: RunRow[]): RunComparison {
  const flats = runs.map((r) => flatten({...runSettings(r), lineage: JSON.parse(r.lineage_json)}));
  const keys = [...new Set(flats.flatMap((f) => Object.keys(f)))].sort();
  const configDiff: Record<string, unknown[]> = {};
  for (const k of keys) {
    const vals = flats.map((f) => f[k] ?? null);
    if (new Set(vals.map((v) => canonicalJson(v))).size > 1) configDiff[k] = vals;
  }
  const summaries = runs.map((r) => ledger.metricSummary(r.id));
  const metricKeys = [...new Set(summaries.flatMap((s) => Object.keys(s)))].sort();
  const metrics: RunComparison['metrics'] = {};
  for (const k of metricKeys) {
    metrics[k] = summaries.map((s) => {
      const m = s[k];
      if (!m) return {last: null, best: null};
      return {last: m.last, best: LOWER_IS_BETTER.test(k) ? m.min : m.max};
    });
  }
  return {
    runs: runs.map((r) => ({id: r.id, status: r.status, kind: r.kind, preset: r.preset, durationS: durationS(r), costUsd: ledger.runCost(r.id).usd})),
    configDiff,
    metrics,
  };
}
