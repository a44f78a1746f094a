import {Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {PrepResult} from '../../lib/data/pipeline.js';

export type DataPrepResult = PrepResult;

export default class DataPrep extends BaseCommand<typeof DataPrep> {
  static summary = 'Prepare training data: parse, normalise, filter, redact PII, dedup, split, count tokens.';
  static description = `Reads JSON lines, JSON arrays, CSV and plain text (.gz too, globs and hf://datasets/... URLs), converts
text, Alpaca, ShareGPT and OpenAI-chat records to one canonical shape and writes train/val/test.jsonl,
rejected.jsonl, duplicates.jsonl, profile.json, card.md and manifest.json into the output folder. Flags override the
data: section of llmops.yaml. A rerun with the same inputs and parameters does nothing unless --force.
--dry-run counts and reports everything (rejections per rule with example lines, warnings) and writes nothing.
--json prints {id, dir, kind, records, rejected_by_reason, rejected_by_rule, warnings, dry_run, pii, tokens, lsh,
skipped, manifest, seconds} (docs/data.md).`;

  static examples = [
    '<%= config.bin %> data prep',
    '<%= config.bin %> data prep --input "data/raw/*.jsonl.gz" --out data/prepared',
    '<%= config.bin %> data prep --input hf://datasets/tatsu-lab/alpaca/data/train.jsonl --json',
    '<%= config.bin %> data prep --input notes.txt --format text --force',
    '<%= config.bin %> data prep --input data/sft.jsonl --dry-run',
    '<%= config.bin %> data prep --input data/sft.jsonl --tokenizer hf:Qwen/Qwen2.5-0.5B-Instruct',
  ];

  static flags = {
    input: Flags.string({char: 'i', summary: 'Input file, glob or hf:// URL (repeatable); replaces data.inputs.', multiple: true}),
    out: Flags.string({char: 'o', summary: 'Output directory (default: data.out).'}),
    format: Flags.string({summary: 'Input format (default: data.format, auto = by extension and content).', options: ['auto', 'jsonl', 'json', 'csv', 'text']}),
    force: Flags.boolean({summary: 'Rebuild even when the manifest says inputs and parameters are unchanged.'}),
    tokenizer: Flags.string({summary: 'Count tokens with: hf:OWNER/NAME, a model folder, or byte (default: data.tokenizer; auto = the model finetune.base names, else byte).'}),
    'dry-run': Flags.boolean({summary: 'Report what would be kept and rejected (per rule, with example lines) without writing anything.'}),
    workers: Flags.integer({summary: 'Worker threads (default: CPUs, at most 4; 0 = in-process).', min: 0, max: 64}),
  };

  async run(): Promise<DataPrepResult> {
    const loaded = await this.projectConfig();
    const {prepareData} = await import('../../lib/data/pipeline.js');
    const {renderProgress, renderSummary} = await import('../../lib/data/render.js');
    const f = this.flags;
    const config = {
      ...loaded.config.data,
      ...(f.input ? {inputs: f.input} : {}),
      ...(f.out ? {out: f.out} : {}),
      ...(f.format ? {format: f.format as 'auto'} : {}),
      ...(f.tokenizer ? {tokenizer: f.tokenizer} : {}),
    };
    const tty = Boolean(process.stderr.isTTY) && !this.jsonEnabled();
    const ledger = await this.ledger();
    const result = await prepareData({
      root: loaded.root,
      config,
      cacheDir: loaded.config.cache_dir,
      force: f.force,
      dryRun: f['dry-run'],
      modelHint: loaded.config.finetune?.base,
      workers: f.workers,
      ledger,
      llmopsVersion: this.config.version,
      onLsh: (l) => {
        if (l.bands > 0) {
          this.progress(`Near-dup: MinHash LSH ${l.bands} bands × ${l.rows} rows, threshold ${l.threshold} (S-curve effective threshold ${l.effective_threshold}).`);
        }
      },
      onProgress: tty ? (p) => process.stderr.write(renderProgress(p)) : undefined,
    });
    if (tty) process.stderr.write('\r\u001B[2K');
    if (!this.jsonEnabled()) this.log(renderSummary(result));
    // Warnings go to stderr even with --json (they are in the result too).
    for (const w of result.warnings) process.stderr.write(`Warning: ${w}\n`);
    return result;
  }
}
