/**
 * The promote gate: a candidate's eval results against the alias's current holder. Ratio checks
 * compare with the holder (perplexity at most 1.02x); min/max checks are absolute limits
 * (pct_stereotype at most 0.6). Every check says what it compared, so a refusal can be read.
 */
import type {GateCheck} from '../config/schema.js';
import type {EvalSummary} from './eval-adapter.js';

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
