/**
 * The promote gate: a candidate's eval results against the alias's current holder. Ratio checks
 * compare with the holder (perplexity at most 1.02x); min/max checks are absolute limits
 * (pct_stereotype at most 0.6). Every check says what it compared, so a refusal can be read.
 */
import type {EvalChecks} from '../config/schema.js';
import type {EvalSummary} from './eval-adapter.js';

/**
 * One check in the gate's working form. Users write checks as `eval.checks` does
 * ({perplexity_ratio: {max: 1.02}}); checksFromEvalConfig turns them into this.
 */
export interface GateCheck {
  metric: string;
  max_ratio?: number;
  min_ratio?: number;
  max?: number;
  min?: number;
  max_delta?: number;
  min_delta?: number;
}

export interface CheckResult {
  metric: string;
  rule: string;
  candidate: number | null;
  holder: number | null;
  pass: boolean;
  note?: string;
}

export const DEFAULT_CHECKS: GateCheck[] = [{metric: 'perplexity', max_ratio: 1.02}];

export function metricValue(s: EvalSummary | null | undefined, metric: string): number | null {
  if (!s) return null;
  const v = (() => {
    switch (metric) {
      case 'perplexity':
        return s.perplexity?.value;
      case 'bits_per_byte':
        return s.perplexity?.bits_per_byte;
      case 'acc':
      case 'acc_norm':
        return s.choices?.[metric];
      case 'exact_match':
        return s.generate?.exact_match;
      case 'pct_stereotype':
        return s.pairs?.pct_stereotype;
      default:
        return (s as unknown as Record<string, unknown>)[metric];
    }
  })();
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const fmt = (n: number | null) => (n === null ? '-' : String(Number(n.toPrecision(5))));

function checkOne(c: GateCheck, cand: EvalSummary, holder: EvalSummary | null): CheckResult[] {
  const cv = metricValue(cand, c.metric);
  const hv = metricValue(holder, c.metric);
  const out: CheckResult[] = [];
  const missing = (rule: string): CheckResult => ({metric: c.metric, rule, candidate: null, holder: hv, pass: false, note: `the candidate has no ${c.metric} (eval source: ${cand.source})`});
  const ratio = (rule: string, limit: number, ok: (cv: number, bound: number) => boolean) => {
    if (cv === null) return out.push(missing(rule));
    if (!holder) return out.push({metric: c.metric, rule, candidate: cv, holder: null, pass: true, note: 'no current holder: nothing to compare with'});
    if (hv === null) return out.push({metric: c.metric, rule, candidate: cv, holder: null, pass: true, note: `the holder has no ${c.metric}: not compared`});
    const bound = hv * limit;
    return out.push({metric: c.metric, rule, candidate: cv, holder: hv, pass: ok(cv, bound), note: `limit ${fmt(bound)}`});
  };
  if (c.max_ratio !== undefined) ratio(`<= ${c.max_ratio}x holder`, c.max_ratio, (v, b) => v <= b);
  if (c.min_ratio !== undefined) ratio(`>= ${c.min_ratio}x holder`, c.min_ratio, (v, b) => v >= b);
  const delta = (rule: string, d: number, ok: (v: number, h: number) => boolean) => {
    if (cv === null) return out.push(missing(rule));
    if (!holder || hv === null) return out.push({metric: c.metric, rule, candidate: cv, holder: hv, pass: true, note: holder ? `the holder has no ${c.metric}: not compared` : 'no current holder: nothing to compare with'});
    return out.push({metric: c.metric, rule, candidate: cv, holder: hv, pass: ok(cv, hv), note: `limit ${fmt(hv + d)}`});
  };
  if (c.max_delta !== undefined) delta(`<= holder ${c.max_delta >= 0 ? '+' : ''}${c.max_delta}`, c.max_delta, (v, h) => v - h <= c.max_delta! + 1e-12);
  if (c.min_delta !== undefined) delta(`>= holder ${c.min_delta >= 0 ? '+' : ''}${c.min_delta}`, c.min_delta, (v, h) => v - h >= c.min_delta! - 1e-12);
  for (const [key, rule, ok] of [
    ['max', (x: number) => `<= ${x}`, (v: number, x: number) => v <= x],
    ['min', (x: number) => `>= ${x}`, (v: number, x: number) => v >= x],
  ] as const) {
    const limit = c[key];
    if (limit === undefined) continue;
    if (cv === null) out.push(missing(rule(limit)));
    else out.push({metric: c.metric, rule: rule(limit), candidate: cv, holder: hv, pass: ok(cv, limit)});
  }
  return out;
}

export function runChecks(checks: GateCheck[], cand: EvalSummary, holder: EvalSummary | null): CheckResult[] {
  return checks.flatMap((c) => checkOne(c, cand, holder));
}

/** One line per check: "perplexity 3.41 vs holder 3.12: <= 1.02x holder (limit 3.1824): FAIL". */
export function renderChecks(results: CheckResult[]): string[] {
  return results.map(
    (r) => `${r.metric} ${fmt(r.candidate)}${r.holder === null ? '' : ` vs holder ${fmt(r.holder)}`}: ${r.rule}${r.note ? ` (${r.note})` : ''}: ${r.pass ? 'pass' : 'FAIL'}`,
  );
}

/**
 * `eval.checks` of llmops.yaml (the eval engine's form: {perplexity_ratio: {max: 1.05}, acc_delta:
 * {min: -0.02}, pct_stereotype: {min: 0.4, max: 0.6}}) as promote checks, where the baseline is
 * the alias's current holder.
 */
export function checksFromEvalConfig(checks: EvalChecks): GateCheck[] {
  const out: GateCheck[] = [];
  for (const [key, b] of Object.entries(checks)) {
    if (!b || (b.min === undefined && b.max === undefined)) continue;
    const ratio = /^(.*)_ratio$/.exec(key);
    const delta = /^(.*)_delta$/.exec(key);
    if (ratio) out.push({metric: ratio[1]!, ...(b.max === undefined ? {} : {max_ratio: b.max}), ...(b.min === undefined ? {} : {min_ratio: b.min})});
    else if (delta) out.push({metric: delta[1]!, ...(b.max === undefined ? {} : {max_delta: b.max}), ...(b.min === undefined ? {} : {min_delta: b.min})});
    else out.push({metric: key, ...(b.max === undefined ? {} : {max: b.max}), ...(b.min === undefined ? {} : {min: b.min})});
  }
  return out;
}
