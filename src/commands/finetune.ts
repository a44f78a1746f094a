import {Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import type {RunCommandResult} from '../lib/ui/run-command.js';
import {runFlags} from '../lib/ui/run-flags.js';

export default class Finetune extends BaseCommand<typeof Finetune> {
  static summary = 'Adapt a base model (a run, a model directory, or hf:OWNER/NAME) to instruction or chat data.';
  static description =
    'Like `llmops train`, with a base model: RUN_ID uses that run\'s exported model (else its latest checkpoint), PATH a model directory, hf:OWNER/NAME downloads it from the Hugging Face Hub into the cache first (HF_TOKEN is used when set). A Hugging Face checkpoint of the llama, mistral, qwen2, qwen3, phi3, gemma, gemma2 or gpt2 family is fine-tuned with torch only: the data is rendered with the model\'s chat template and tokenized here, the loss is on assistant tokens, records longer than the context follow finetune.long_records. LoRA weights are merged for export (ONNX in the onnx-community layout).';
  static examples = [
    '<%= config.bin %> finetune --base r-20261126-101500-ab12 --method lora',
    '<%= config.bin %> finetune --base ./models/base --method full --max-steps 100',
    '<%= config.bin %> finetune --base hf:OWNER/NAME --dataset data/chat',
    '<%= config.bin %> finetune --base chat@prod --method lora',
  ];

  static flags = {
    ...runFlags,
    base: Flags.string({summary: 'Base model: RUN_ID, a directory, hf:OWNER/NAME, or NAME@ALIAS / NAME@vN of the registry (default: finetune.base).'}),
    method: Flags.string({summary: 'lora (default) or full.', options: ['lora', 'full']}),
  };

  async run(): Promise<RunCommandResult> {
    const {runCommand} = await import('../lib/ui/run-command.js');
    const {requestFromFlags, runContext} = await import('../lib/ui/run-flags.js');
    const f = this.flags;
    const loaded = await this.projectConfig({required: true});
    const ledger = await this.ledger();
    // A resumed finetune keeps its parent's base: only an explicit --base is passed on (and refused).
    let base = f.resume ? f.base : (f.base ?? loaded.config.finetune.base);
    const {baseFromRegistry} = await import('../lib/registry/resolve.js');
    base = baseFromRegistry(ledger, loaded.root, base);
    let baseSource: {ref: string; revision: string | null} | undefined;
    if (base?.startsWith('hf:')) {
      const {fetchHubBase} = await import('../lib/runtime/hub-base.js');
      this.progress(`Downloading ${base} from the Hugging Face Hub...`);
      const hub = await fetchHubBase(base, loaded, {progress: (m) => this.progress(m)});
      baseSource = {ref: base, revision: hub.revision};
      base = hub.dir;
    }
    const ctx = runContext({json: this.jsonEnabled(), progress: (m) => this.progress(m), say: (m) => this.log(m)}, ledger, loaded, f);
    return runCommand(ctx, {
      kind: 'finetune',
      base,
      baseSource,
      method: f.method as 'lora' | 'full' | undefined,
      ...requestFromFlags(f),
    });
  }
}
