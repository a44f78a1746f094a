import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {runCli, tempDir} from '../helpers/cli.js';

function project(files: Record<string, string>, yaml = ''): string {
  const dir = tempDir('llmops-decisions-');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
    writeFileSync(path.join(dir, name), body);
  }
  writeFileSync(path.join(dir, 'llmops.yaml'), `ledger: {path: ledger.db}\n${yaml}`);
  return dir;
}

// 20 instruction records; lines 4 and 9 carry mojibake (10% of the chat records).
const SFT = Array.from({length: 20}, (_, i) =>
  JSON.stringify({instruction: `Question number ${i}: what is ${i} plus ${i}?`, output: i === 3 || i === 8 ? `The cafÃ© answer is ${2 * i}.` : `${i} + ${i} = <<${i}+${i}=${2 * i}>>${2 * i}\n#### ${2 * i}`}),
).join('\n');
// A text record whose digits (phone numbers) broke the digit rule before redaction.
const PII = JSON.stringify({text: 'Call +1 (555) 201-7788 or +1 (555) 201-7789 or +1 (555) 201-7790 for the garden.'});

describe('visible decisions: rejections per rule, warnings, dry run', () => {
  it('--dry-run --json reports each rule with its share and example lines, warns on stderr above 5% with how to turn it off, and writes nothing', async () => {
    const dir = project({'sft.jsonl': SFT, 'web.jsonl': PII});
    const r = await runCli(['data', 'prep', '--input', '*.jsonl', '--out', 'out', '--dry-run', '--json', '--workers', '0'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.dry_run).toBe(true);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
    expect(r.json.rejected_by_rule).toEqual([
      {kind: 'chat', reason: 'quality:encoding_debris', records: 2, share: 0.1, examples: [{source: 'sft.jsonl', line: 4}, {source: 'sft.jsonl', line: 9}]},
    ]);
    expect(r.json.records.written.train + r.json.records.written.val + r.json.records.written.test).toBe(19);
    expect(r.json.pii.counts).toEqual({phone: 3});
    expect(r.stderr).toMatch(/Warning: quality rule encoding_debris rejected 10\.0% of chat records \(2; e\.g\. sft\.jsonl:4, sft\.jsonl:9\)/);
    expect(r.stderr).toContain('data.quality.rules.encoding_debris: false');
    expect(r.json.warnings).toHaveLength(1);
  });

  it('card.md lists the rule with its share and lines; turning the rule off in llmops.yaml keeps the records and the warning goes', async () => {
    const dir = project({'sft.jsonl': SFT});
    const r = await runCli(['data', 'prep', '--input', 'sft.jsonl', '--out', 'out', '--workers', '0'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    const card = readFileSync(path.join(dir, 'out', 'card.md'), 'utf8');
    expect(card).toContain('| chat | quality:encoding_debris ⚠ | 2 | 10.00% | sft.jsonl:4, sft.jsonl:9 |');
    expect(r.stderr).toContain('Warning: quality rule encoding_debris');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'ledger: {path: ledger.db}\ndata: {quality: {rules: {encoding_debris: false}}}\n');
    const r2 = await runCli(['data', 'prep', '--input', 'sft.jsonl', '--out', 'out', '--workers', '0', '--json'], {cwd: dir});
    expect(r2.json.records.rejected).toBe(0);
    expect(r2.stderr).not.toContain('Warning');
    expect(readFileSync(path.join(dir, 'out', 'card.md'), 'utf8')).toContain('No record was rejected.');
  });
});
