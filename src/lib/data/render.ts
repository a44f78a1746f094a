/** Human output of `data prep`: the progress line (stderr, TTY only) and the summary (stdout). */
import type {PrepProgress, PrepResult} from './pipeline.js';

export function renderProgress(p: PrepProgress): string {
  const rate = p.seconds > 0 ? p.records / p.seconds : 0;
  const mbs = p.seconds > 0 ? p.bytes / 1e6 / p.seconds : 0;
  return `\r\u001B[2K${p.stage} ${p.file}: ${p.records.toLocaleString('en-US')} records, ${Math.round(rate).toLocaleString('en-US')} rec/s, ${mbs.toFixed(1)} MB/s, ${p.seconds.toFixed(1)}s`;
}

export function renderSummary(r: PrepResult): string {
  const w = r.records.written;
  const lines = [
    r.skipped
      ? `Dataset ${r.id} is up to date (inputs and parameters match ${r.manifest}); nothing to do. Use --force to rebuild.`
      : r.dry_run
        ? `Dry run: dataset ${r.id} (${r.kind}) would be written to ${r.dir} (nothing written), ${r.seconds.toFixed(1)}s.`
        : `Dataset ${r.id} (${r.kind}) written to ${r.dir} in ${r.seconds.toFixed(1)}s.`,
    `  read ${r.records.read}, rejected ${r.records.rejected}, duplicates ${r.records.duplicates.exact} exact + ${r.records.duplicates.near} near`,
    `  written: train ${w.train}, val ${w.val}, test ${w.test}`,
  ];
  if (r.rejected_by_rule.length > 0) {
    lines.push('  rejected by rule (kind, rule: records, share of kind, example lines):');
    for (const t of r.rejected_by_rule) {
      lines.push(`    ${t.kind} ${t.reason}: ${t.records} (${(t.share * 100).toFixed(2)}%) ${t.examples.map((e) => `${e.source}:${e.line}`).join(', ')}`);
    }
  }
  const pii = Object.entries(r.pii.counts);
  lines.push(`  PII (${r.pii.mode}): ${pii.length > 0 ? pii.map(([k, v]) => `${k} ${v}`).join(', ') : 'none found'}`);
  const t = r.tokens;
  lines.push(`  tokens (${t.tokenizer}): ${t.total} total, p50 ${t.p50}, p95 ${t.p95}, max ${t.max}; ${t.over_context} records over ${t.context_length}`);
  return lines.join('\n');
}
