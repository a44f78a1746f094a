import {Flags} from '@oclif/core';
import type {EvalResult} from '../lib/eval/run.js';
import {BaseCommand} from '../lib/ui/base-command.js';

export default class Eval extends BaseCommand<typeof Eval> {
  static summary = 'Measure a model: perplexity, multiple choice, generation and bias probes, against a baseline.';
  static description = `With no suite flag, perplexity on the test split of the dataset the model's run trained on. Every result is recorded in the ledger against the model's run (shown by \`runs show\`, \`lineage\` and \`monitor --html\`). --check applies eval.checks of llmops.yaml and exits 7 naming each failed check. See docs/eval.md.`;

  static examples = [
    '<%= config.bin %> eval --model r-20261126-101500-ab12',
    '<%= config.bin %> eval --model r-2026 --baseline auto --check',
    '<%= config.bin %> eval --model ./model --choices mc.jsonl --pairs builtin --json',
    '<%= config.bin %> eval --model r-2026 --generate gsm.jsonl --extract "#### (\\-?[0-9.,]+)"',
  ];

  static flags = {
    model: Flags.string({summary: 'RUN_ID, a model folder, or hf:OWNER/NAME.', required: true}),
    dataset: Flags.string({summary: 'Perplexity on this dataset\'s test split (a dataset id or a prepared dataset folder).'}),
    perplexity: Flags.string({summary: 'Perplexity on a JSONL file of {"text"} or {"messages"} records (or a .txt file).'}),
    choices: Flags.string({summary: 'Multiple choice: JSONL {"question", "choices": [...], "answer": index}.'}),
    generate: Flags.string({summary: 'Greedy generation, exact match: JSONL {"prompt"|"messages", "answer"}.'}),
    extract: Flags.string({summary: 'With --generate: a regex whose first group is the answer (e.g. "#### (\\-?[0-9.,]+)").'}),
    pairs: Flags.string({summary: 'Bias pairs, CrowS-Pairs columns (sent_more, sent_less, bias_type) as CSV or JSONL; "builtin" for llmops\'s probe set.'}),
    baseline: Flags.string({summary: 'Run the same suites on this model too and report deltas: RUN_ID, folder, hf:OWNER/NAME, or "auto" (the base of a fine-tune).'}),
    limit: Flags.integer({summary: 'Only the first N records of each suite.', min: 1}),
    check: Flags.boolean({summary: 'Apply eval.checks of llmops.yaml; exit 7 when one fails.'}),
    threads: Flags.integer({summary: 'onnxruntime intra-op threads (default: eval.threads, else one per CPU core up to 8).', min: 1}),
  };

  async run(): Promise<EvalResult> {
    const {flags} = this;
    const {usageError} = await import('../lib/errors.js');
    if (flags.extract && !flags.generate) throw usageError('--extract applies to --generate answers.', {fix: 'Try this: add --generate FILE, or drop --extract.'});
    const loaded = await this.projectConfig();
    const path = await import('node:path');
    const {runEval} = await import('../lib/eval/run.js');
    const result = await runEval({
      model: flags.model,
      dataset: flags.dataset,
      perplexity: flags.perplexity,
      choices: flags.choices,
      generate: flags.generate,
      pairs: flags.pairs,
      baseline: flags.baseline,
      limit: flags.limit,
      extract: flags.extract,
      threads: flags.threads,
      config: loaded.config.eval,
      ledger: await this.ledger(),
      cwd: process.cwd(),
      cacheDir: path.resolve(loaded.root, loaded.config.cache_dir),
      progress: (line) => this.progress(line),
    });
    if (!this.jsonEnabled()) {
      const {renderEval} = await import('../lib/eval/render.js');
      this.log(renderEval(result));
    }
    if (flags.check) {
      const failed = result.checks.filter((c) => c.status === 'fail');
      if (failed.length > 0) {
        const {ExitCode} = await import('../lib/errors.js');
        const {describeCheck} = await import('../lib/eval/checks.js');
        this.progress(`eval check failed: ${failed.map((c) => describeCheck(c)).join('; ')} (exit ${ExitCode.SLO_BREACHED}).`);
        process.exitCode = ExitCode.SLO_BREACHED;
      }
    }
    return result;
  }
}
