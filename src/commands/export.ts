import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import type {ExportResult} from '../lib/runtime/export-model.js';

export default class Export extends BaseCommand<typeof Export> {
  static summary = "Re-export a run's model (ONNX with a KV cache, config, tokenizer) from its latest checkpoint, and check parity.";
  static examples = ['<%= config.bin %> export r-20261126-101500-ab12', '<%= config.bin %> export r-2026 --out ./models/mine --json'];
  static args = {id: Args.string({required: true, description: 'Run id (or a unique prefix).'})};
  static flags = {out: Flags.string({summary: "Model directory to write (default: the run's model/)."})};

  async run(): Promise<ExportResult> {
    const {exportRun} = await import('../lib/runtime/export-model.js');
    const loaded = await this.projectConfig({required: true});
    const ledger = await this.ledger();
    const run = ledger.getRun(this.args.id);
    this.progress(`Exporting ${run.id}...`);
    const r = await exportRun(ledger, loaded, run, {out: this.flags.out});
    if (!this.jsonEnabled()) {
      const p = r.parity;
      this.log(`model: ${r.modelDir} (from ${r.checkpoint}, ${r.seconds.toFixed(1)}s)`);
      this.log(p.checked ? `parity: max |onnx - torch| = ${p.maxAbsDiff} (${p.ok ? 'ok' : 'FAILED'})` : `parity: not checked (${p.note})`);
    }
    return r;
  }
}
