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
    '<%= config.bin %> lineage chat@prod',
  ];

  static args = {
    ref: Args.string({description: 'A deployment name or id, a run id, a dataset id, or NAME@ALIAS / NAME@vN.', required: true}),
  };

  async run(): Promise<LineageResult> {
    const {lineage, renderLineage} = await import('../lib/ledger/lineage.js');
    const ledger = await this.ledger({readonly: true});
    const loaded = await this.projectConfig();
    const {isRegistryRef, resolveModelRef} = await import('../lib/registry/resolve.js');
    // NAME@ALIAS / NAME@vN: the run that version is (a registered folder has no lineage of its own).
    const ref = isRegistryRef(loaded.root, this.args.ref) && !ledger.findDeployment(this.args.ref) ? (resolveModelRef(ledger, loaded.root, this.args.ref).runId ?? this.args.ref) : this.args.ref;
    const result = lineage(ledger, ref);
    if (!this.jsonEnabled()) this.log(renderLineage(result));
    return result;
  }
}
