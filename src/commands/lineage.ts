import {Args} from '@oclif/core';
import type {LineageResult} from '../lib/ledger/lineage.js';
import {BaseCommand} from '../lib/ui/base-command.js';

export default class Lineage extends BaseCommand<typeof Lineage> {
  static summary = 'Show where a deployment, run or dataset came from, and what used it.';
  static description =
    'Back from a deployment to the fine-tune run, its base run, the datasets with their manifest hashes, the raw input files with theirs, the config hashes and git commits; forward to the runs and deployments that used it.';
  static examples = [
    '<%= config.bin %> lineage my-deployment',
    '<%= config.bin %> lineage r-20261126-101500-ab12 --json',
    '<%= config.bin %> lineage ds-0123456789ab',
  ];

  static args = {
    ref: Args.string({description: 'A deployment name or id, a run id, or a dataset id.', required: true}),
  };

  async run(): Promise<LineageResult> {
    const {lineage, renderLineage} = await import('../lib/ledger/lineage.js');
    const ledger = await this.ledger({readonly: true});
    const result = lineage(ledger, this.args.ref);
    if (!this.jsonEnabled()) this.log(renderLineage(result));
    return result;
  }
}
