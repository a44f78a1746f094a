import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface ModelsRollbackResult {
  name: string;
  alias: string;
  from: string;
  to: string;
}

export default class ModelsRollback extends BaseCommand<typeof ModelsRollback> {
  static summary = 'Move an alias back one step, to the version it pointed at before its last move.';
  static description = 'A rollback is recorded in the alias history too; rolling back twice goes back two steps.\n\n--json result: {name, alias, from, to}';
  static examples = ['<%= config.bin %> models rollback chat@prod', '<%= config.bin %> models rollback chat@prod --reason "latency regression" --json'];
  static args = {ref: Args.string({description: 'NAME@ALIAS, e.g. chat@prod.', required: true})};
  static flags = {reason: Flags.string({summary: 'Why (kept in the alias history).'})};

  async run(): Promise<ModelsRollbackResult> {
    const {parseAliasRef, rollbackAlias} = await import('../../lib/registry/registry.js');
    const ledger = await this.ledger();
    const {name, alias} = parseAliasRef(this.args.ref);
    const r = rollbackAlias(ledger, name, alias, this.flags.reason);
    if (!this.jsonEnabled()) this.log(`${name}@${alias}: v${r.from} -> v${r.to} (rolled back)`);
    return {name, alias, from: `v${r.from}`, to: `v${r.to}`};
  }
}
