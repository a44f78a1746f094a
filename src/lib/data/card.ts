/** card.md: a data card a person can read, generated from the manifest only. */
import type {Manifest} from './manifest.js';
import {RULE_WARN_SHARE} from './rule-tally.js';

/** Per kind and rule: records rejected, their share of that kind, and up to three example lines. */
function ruleTable(m: Manifest): string[] {
  const k = m.counts.by_kind;
  const rules = m.counts.rejected.by_rule;
  const lines = [`Records by kind: text ${k.text}, chat/instruction ${k.chat}${k.unknown ? `, unreadable ${k.unknown}` : ''}.`, ''];
  if (rules.length === 0) return [...lines, 'No record was rejected.'];
  lines.push('| kind | rule | rejected | share of kind | example lines |', '| --- | --- | ---: | ---: | --- |');
  for (const r of rules) {
    const warn = r.reason.startsWith('quality:') && r.share > RULE_WARN_SHARE ? ' ⚠' : '';
    lines.push(`| ${r.kind} | ${r.reason}${warn} | ${r.records} | ${(r.share * 100).toFixed(2)}% | ${r.examples.map((e) => `${e.source}:${e.line}`).join(', ')} |`);
  }
  lines.push('', `⚠: more than ${RULE_WARN_SHARE * 100}% of the kind's records; \`data.quality.rules.RULE: false\` in llmops.yaml turns a rule off.`);
  return lines;
}

export function renderCard(m: Manifest): string {
  const c = m.counts;
  const t = m.tokens;
  const lines: string[] = [
    `# Dataset ${m.id}`,
    '',
    `Prepared by \`llmops data prep\` (llmops ${m.llmops_version}). Kind: **${m.kind}**. ` +
      `${c.written.train + c.written.val + c.written.test} records written from ${c.read} read.`,
    '',
    '## Sources',
    '',
    '| file | format | records | bytes | sha256 |',
    '| --- | --- | ---: | ---: | --- |',
    ...m.inputs.map((i) => `| ${i.name} | ${i.format} | ${i.records} | ${i.bytes} | \`${i.sha256.slice(0, 16)}…\` |`),
    '',
    '## What happened to the records',
    '',
    `| stage | records |`,
    `| --- | ---: |`,
    `| read | ${c.read} |`,
    ...Object.entries(c.rejected.by_reason).map(([k, v]) => `| rejected: ${k} | ${v} |`),
    `| exact duplicates | ${c.duplicates.exact} |`,
    `| near duplicates (Jaccard ≥ ${m.params.dedup.threshold}) | ${c.duplicates.near} |`,
    `| written: train | ${c.written.train} |`,
    `| written: val | ${c.written.val} |`,
    `| written: test | ${c.written.test} |`,
    '',
    m.reconciled
      ? `Counts reconcile: the inputs' own record count (${m.inputs.reduce((n, i) => n + i.records, 0)}: lines, CSV rows, array elements) = ` +
        `rejected + exact duplicates + near duplicates + written.`
      : `**Counts do NOT reconcile**: ${m.warnings.filter((w) => w.startsWith('counts do not reconcile')).join(' ')}`,
    ...(m.warnings.length > 0 ? ['', ...m.warnings.map((w) => `- Warning: ${w}`)] : []),
    '',
    '## Rejections by rule',
    '',
    ...ruleTable(m),
    '',
    '## Record formats',
    '',
    ...Object.entries(m.formats).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '## Personal data',
    '',
    `Mode: **${m.pii.mode}** (types: ${m.params.pii.types.join(', ')}). ${m.pii.records} records contained matches.`,
    '',
    ...(Object.keys(m.pii.counts).length > 0 ? Object.entries(m.pii.counts).map(([k, v]) => `- ${k}: ${v}`) : ['- none found']),
    '',
    '## Tokens',
    '',
    `Tokenizer: ${t.tokenizer}; context length ${t.context_length}. Total ${t.total} tokens ` +
      `(train ${t.by_split.train}, val ${t.by_split.val}, test ${t.by_split.test}).`,
    '',
    `Per record: mean ${t.mean}, p50 ${t.p50}, p90 ${t.p90}, p95 ${t.p95}, p99 ${t.p99}, max ${t.max}. ` +
      `${t.over_context} records are longer than the context.`,
    '',
    '## Parameters',
    '',
    `Near-duplicate detection: ${m.params.dedup.near ? `MinHash LSH, word ${m.params.dedup.ngram}-grams, ${m.params.dedup.num_perm} permutations, ` +
      `${m.params.dedup.bands} bands × ${m.params.dedup.rows} rows (S-curve effective threshold ${m.params.dedup.effective_threshold}), ` +
      `candidates verified against the true Jaccard` : 'off'}.`,
    `Split: train ${m.params.split.train} / val ${m.params.split.val} / test ${m.params.split.test}, seed ${m.params.split.seed}, by content hash.`,
    '',
    'All parameters and output hashes are in `manifest.json`.',
    '',
  ];
  return lines.join('\n');
}
