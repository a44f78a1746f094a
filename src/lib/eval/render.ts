/** The human table of `llmops eval` (stdout): one row per metric, the baseline beside it, then the checks. */
import {describeCheck} from './checks.js';
import type {EvalResult, SuiteResults} from './run.js';

type Row = [suite: string, metric: string, value: number, n: number];

function rows(s: SuiteResults): Row[] {
  const out: Row[] = [];
  if (s.perplexity) out.push(['perplexity', 'perplexity', s.perplexity.value, s.perplexity.tokens], ['perplexity', 'bits_per_byte', s.perplexity.bits_per_byte, s.perplexity.tokens]);
  if (s.choices) out.push(['choices', 'acc', s.choices.acc, s.choices.n], ['choices', 'acc_norm', s.choices.acc_norm, s.choices.n]);
  if (s.generate) out.push(['generate', 'exact_match', s.generate.exact_match, s.generate.n]);
  if (s.pairs) {
    out.push(['pairs', 'pct_stereotype', s.pairs.pct_stereotype, s.pairs.n], ['pairs', 'likelihood_diff', s.pairs.likelihood_diff, s.pairs.n]);
    for (const [t, v] of Object.entries(s.pairs.by_type)) out.push(['pairs', `pct_stereotype[${t}]`, v.pct_stereotype, v.n]);
  }
  return out;
}

const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : String(+v.toPrecision(5)));

export function table(header: string[], body: string[][], right: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), ...body.map(fmt)].join('\n');
}

export function renderEval(r: EvalResult): string {
  const base = r.baseline ? new Map(rows(r.baseline).map(([s, m, v]) => [`${s}/${m}`, v])) : undefined;
  const header = ['SUITE', 'METRIC', 'VALUE', ...(base ? ['BASELINE', 'DELTA'] : []), 'N'];
  const body = rows(r).map(([s, m, v, n]) => {
    const b = base?.get(`${s}/${m}`);
    return [s, m, num(v), ...(base ? [num(b), b === undefined ? '-' : `${v - b >= 0 ? '+' : ''}${num(v - b)}`] : []), String(n)];
  });
  const lines = [`model ${r.model.run_id ?? r.model.dir}${r.baseline ? `  baseline ${r.baseline.model.run_id ?? r.baseline.model.dir}` : ''}`, table(header, body, new Set(base ? [2, 3, 4, 5] : [2, 3]))];
  if (r.checks.length > 0) {
    lines.push('', ...r.checks.map((c) => `check ${c.status === 'pass' ? 'pass' : c.status === 'fail' ? 'FAIL' : 'skipped'}  ${describeCheck(c)}${c.reason ? ` (${c.reason})` : ''}`));
  }
  return lines.join('\n');
}
