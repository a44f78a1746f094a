import {Args, Flags} from '@oclif/core';
import type {PipelineRunResult} from '../../lib/pipeline/run.js';
import {BaseCommand} from '../../lib/ui/base-command.js';

export default class PipelineRun extends BaseCommand<typeof PipelineRun> {
  static summary = 'Run the stages of `pipeline:` whose inputs changed; skip the ones that are up to date.';
  static description = `Each stage's inputs are hashed (input files, its config section, the trainer code, upstream outputs by id). A stage whose hash matches a succeeded execution in the ledger is skipped and its output reused ("up to date: run r-..."); stale stages and what depends on them run. A failed stage blocks its downstream and leaves the other stages. One pipeline run at a time per project (a lock).

Exit codes: 0 all succeeded or up to date; the first failed stage's code otherwise (5 a run failed, 7 a promote check failed, 6 budget); 2 when another pipeline run holds the lock.

--json result: {executionId, dryRun, status, seconds, exitCode, stages: [{name, kind, decision, reason, status, inputHash, output, seconds, error}]}`;

  static examples = [
    '<%= config.bin %> pipeline run',
    '<%= config.bin %> pipeline run --dry-run',
    '<%= config.bin %> pipeline run finetune --force finetune',
    '<%= config.bin %> pipeline run --from eval --json',
  ];

  static strict = false;
  static args = {stage: Args.string({description: 'Stages to bring up to date (with what they need); default: all.', required: false})};
  static flags = {
    'dry-run': Flags.boolean({summary: 'Print the plan with the reason for each stage; run nothing.'}),
    force: Flags.string({summary: 'Run this stage even if it is up to date (repeatable).', multiple: true}),
    from: Flags.string({summary: 'Run this stage and every stage after it, up to date or not.'}),
  };

  async run(): Promise<PipelineRunResult> {
    const {argv} = await this.parse(PipelineRun);
    const {runPipeline, checkRunFlags} = await import('../../lib/pipeline/run.js');
    const loaded = await this.projectConfig({required: true});
    const opts = {only: argv as string[], force: this.flags.force ?? [], dryRun: this.flags['dry-run'], ...(this.flags.from ? {from: this.flags.from} : {})};
    checkRunFlags(opts);
    const result = await runPipeline({ledger: await this.ledger(), loaded, progress: (m) => this.progress(m), llmopsVersion: this.config.version}, opts);
    if (!this.jsonEnabled()) {
      for (const s of result.stages) {
        const verb = {planned: 'would run', succeeded: 'ran', failed: 'FAILED', skipped: 'up to date', blocked: 'blocked'}[s.status];
        this.log(`${s.name.padEnd(12)} ${verb.padEnd(10)} ${s.status === 'skipped' ? s.reason.replace(/^up to date: /, '') : s.reason}${s.error ? `\n${' '.repeat(24)}${s.error.replaceAll('\n', '\n' + ' '.repeat(24))}` : ''}`);
      }
      this.log(result.dryRun ? '(dry run: nothing launched)' : `pipeline ${result.executionId} ${result.status} in ${result.seconds.toFixed(1)}s`);
    }
    process.exitCode = result.exitCode;
    return result;
  }
}
