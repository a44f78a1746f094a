import {Args} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {FetchResult} from '../../lib/runtime/remote/fetch.js';

export type RunsFetchResult = FetchResult;

export default class RunsFetch extends BaseCommand<typeof RunsFetch> {
  static summary = "Copy a remote run's checkpoints and exported model into its local run directory now.";
  static description = 'Remote runs (ssh, Slurm through a login node, Kubernetes) bring these back when they end; this fetches them on demand, e.g. to look at a checkpoint mid-run or after a failed automatic fetch.';
  static examples = ['<%= config.bin %> runs fetch r-20261126-101500-ab12', '<%= config.bin %> runs fetch r-2026 --json'];
  static args = {id: Args.string({required: true, description: 'Run id (or a unique prefix).'})};

  async run(): Promise<RunsFetchResult> {
    const {fetchRunArtifacts} = await import('../../lib/runtime/remote/fetch.js');
    const loaded = await this.projectConfig();
    const ledger = await this.ledger();
    const run = ledger.getRun(this.args.id);
    this.progress(`Fetching ${run.id} from ${run.backend}...`);
    const r = await fetchRunArtifacts(ledger, loaded, run);
    if (!this.jsonEnabled()) {
      this.log(`${r.id}: ${r.checkpoints.length} checkpoint(s)${r.model ? ' and the model' : ''} in ${r.runDir}`);
    }
    return r;
  }
}
