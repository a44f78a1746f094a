/** Short human forms of pipeline results. */
import type {EvalSummary} from './eval-adapter.js';

const n = (x: number) => String(Number(x.toPrecision(5)));

export function renderSummary(s: EvalSummary): string {
  const parts: string[] = [];
  if (s.perplexity) parts.push(`perplexity ${n(s.perplexity.value)}`);
  if (s.perplexity?.bits_per_byte !== undefined) parts.push(`bits/byte ${n(s.perplexity.bits_per_byte)}`);
  if (s.choices) parts.push(`acc ${n(s.choices.acc)}`);
  if (s.generate) parts.push(`exact match ${n(s.generate.exact_match)}`);
  if (s.pairs) parts.push(`pct_stereotype ${n(s.pairs.pct_stereotype)}`);
  if (parts.length === 0) parts.push('no metrics');
  return `${parts.join(', ')} (${s.source === 'llmops-eval' ? 'llmops eval' : 'trainer validation split'})`;
}
