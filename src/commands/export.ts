import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import type {ExportResult} from '../lib/runtime/export-model.js';
import type {CheckpointExportResult} from '../lib/runtime/export-hf.js';

export default class Export extends BaseCommand<typeof Export> {
  static summary = "Export a model to ONNX with a KV cache: a run's latest checkpoint, or a Hugging Face checkpoint (llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gpt2) without training.";
  static description =
    'RUN_ID re-exports that run from its latest checkpoint. A folder or hf:OWNER/NAME[@REV] (downloaded into the cache) is converted into the onnx-community layout that `llmops deploy`, transformers.js and optimum load: config.json, tokenizer files, generation_config.json, onnx/model.onnx (onnx/model_fp16.onnx with --dtype fp16). Needs only torch in Python. Parity against torch is checked with onnxruntime.';
  static examples = [
    '<%= config.bin %> export r-20261126-101500-ab12',
    '<%= config.bin %> export r-2026 --out ./models/mine --json',
    '<%= config.bin %> export ./SmolLM2-135M-Instruct --out ./models/smol',
    '<%= config.bin %> export hf:HuggingFaceTB/SmolLM2-135M-Instruct --dtype fp16',
  ];
  static args = {source: Args.string({required: true, description: 'Run id (or a unique prefix), a Hugging Face model folder, or hf:OWNER/NAME[@REV].'})};
  static flags = {
    out: Flags.string({summary: "Model directory to write (default: the run's model/, or models/NAME for a checkpoint)."}),
    dtype: Flags.string({summary: 'Weights and graph precision for a checkpoint: fp32 (default) or fp16 (GPUs).', options: ['fp32', 'fp16']}),
  };

  async run(): Promise<ExportResult | CheckpointExportResult> {
    const {isCheckpointSource} = await import('../lib/runtime/export-hf.js');
    const source = this.args.source;
    if (isCheckpointSource(source)) return this.exportCheckpoint(source);
    if (this.flags.dtype === 'fp16') {
      const {usageError} = await import('../lib/errors.js');
      throw usageError('--dtype fp16 applies to Hugging Face checkpoints; a run exports its own float32 graph.', {fix: 'Try this: drop --dtype, or pass a folder / hf:OWNER/NAME.'});
    }
    const {exportRun} = await import('../lib/runtime/export-model.js');
    const loaded = await this.projectConfig({required: true});
    const ledger = await this.ledger();
    const run = ledger.getRun(source);
    this.progress(`Exporting ${run.id}...`);
    const r = await exportRun(ledger, loaded, run, {out: this.flags.out});
    if (!this.jsonEnabled()) {
      this.log(`model: ${r.modelDir} (from ${r.checkpoint}, ${r.seconds.toFixed(1)}s)`);
      this.logParity(r.parity);
    }
    return r;
  }

  private async exportCheckpoint(source: string): Promise<CheckpointExportResult> {
    const {exportCheckpoint} = await import('../lib/runtime/export-hf.js');
    const loaded = await this.projectConfig();
    const r = await exportCheckpoint(loaded, source, {
      out: this.flags.out,
      dtype: this.flags.dtype as 'fp32' | 'fp16' | undefined,
      progress: (m) => this.progress(m),
    });
    if (!this.jsonEnabled()) {
      this.log(`model: ${r.modelDir} (${r.family}, ${(r.params / 1e6).toFixed(2)}M params, ${r.dtype}, ${r.seconds.toFixed(1)}s)`);
      this.log(`onnx: ${r.onnx}`);
      this.logParity(r.parity);
    }
    return r;
  }

  private logParity(p: ExportResult['parity']): void {
    this.log(p.checked ? `parity: max |onnx - torch| = ${p.maxAbsDiff} (${p.ok ? 'ok' : 'FAILED'})` : `parity: not checked (${p.note})`);
  }
}
