import {Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import type {RunCommandResult} from '../lib/ui/run-command.js';
import {runFlags} from '../lib/ui/run-flags.js';

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
    const {runCommand} = await import('../lib/ui/run-command.js');
    const {requestFromFlags, runContext} = await import('../lib/ui/run-flags.js');
    const command = (argv as string[]).filter((a) => a !== '--');
    const loaded = await this.projectConfig({required: true});
    let tokenizer = this.flags.tokenizer;
    if (tokenizer?.startsWith('hf:')) {
      const {fetchHubBase, TOKENIZER_FILES} = await import('../lib/runtime/hub-base.js');
      this.progress(`Downloading ${tokenizer}'s tokenizer from the Hugging Face Hub...`);
      tokenizer = (await fetchHubBase(tokenizer, loaded, {only: (f) => TOKENIZER_FILES.includes(f), progress: (m) => this.progress(m)})).dir;
    }
    const ctx = runContext({json: this.jsonEnabled(), progress: (m) => this.progress(m), say: (m) => this.log(m)}, await this.ledger(), loaded, this.flags);
    return runCommand(ctx, {
      kind: command.length > 0 ? 'command' : 'train',
      command: command.length > 0 ? command : undefined,
      ...requestFromFlags(this.flags),
      tokenizer,
    });
  }
}
