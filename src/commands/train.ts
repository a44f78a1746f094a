import {Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import {runFlags} from '../lib/runtime/run-flags.js';
import type {RunCommandResult} from '../lib/runtime/run-command.js';

export default class Train extends BaseCommand<typeof Train> {
  static summary = 'Train a model from scratch on a prepared dataset, or run any command as a tracked run.';
  static description = `Launches a run (the Python trainer, or \`-- CMD ARGS...\`) under a supervisor that records its metrics, logs, cost and final status in the ledger. Attached by default: shows step/total, loss, tokens/s, ETA and dollars so far; Ctrl-C asks whether to stop the run (without a terminal it stops it). Exit codes: 0 succeeded, 5 failed or lost, 6 budget exceeded, 12 stopped.`;
  static examples = [
    '<%= config.bin %> train',
    '<%= config.bin %> train --preset tiny --max-steps 200 --budget 2',
    '<%= config.bin %> train --detach --json',
    '<%= config.bin %> train --resume r-20261126-101500-ab12',
    '<%= config.bin %> train --dry-run',
    '<%= config.bin %> train --tokenizer hf:HuggingFaceTB/SmolLM2-135M --preset small',
    '<%= config.bin %> train -- python my_train.py --epochs 3',
  ];

  static strict = false;
  static flags = {
    ...runFlags,
    tokenizer: Flags.string({
      summary: 'byte (llmops GPT, default: data.tokenizer), or a folder with tokenizer.json / hf:OWNER/NAME: a Llama-architecture model with that tokenizer.',
    }),
  };

  async run(): Promise<RunCommandResult> {
    const {argv} = await this.parse(Train);
    const {runCommand} = await import('../lib/runtime/run-command.js');
    const {parseBudget, parseSets} = await import('../lib/runtime/run-flags.js');
    const f = this.flags;
    const command = (argv as string[]).filter((a) => a !== '--');
    const loaded = await this.projectConfig({required: true});
    let tokenizer = f.tokenizer;
    if (tokenizer?.startsWith('hf:')) {
      const {fetchHubBase} = await import('../lib/runtime/hub-base.js');
      this.progress(`Downloading ${tokenizer} from the Hugging Face Hub...`);
      tokenizer = (await fetchHubBase(tokenizer, loaded)).dir;
    }
    return runCommand(
      {
        ledger: await this.ledger(),
        loaded,
        json: this.jsonEnabled(),
        detach: f.detach,
        dryRun: f['dry-run'],
        force: f.force,
        progress: (m) => this.progress(m),
        say: (m) => this.log(m),
      },
      {
        kind: command.length > 0 ? 'command' : 'train',
        command: command.length > 0 ? command : undefined,
        dataset: f.dataset,
        preset: f.preset,
        maxSteps: f['max-steps'],
        backend: f.backend,
        budgetUsd: parseBudget(f.budget),
        seed: f.seed,
        resume: f.resume,
        overrides: parseSets(f.set),
        tokenizer,
        name: f.name,
      },
    );
  }
}
