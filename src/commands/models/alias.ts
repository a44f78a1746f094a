import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface ModelsAliasResult {
  name: string;
  alias: string;
  from: string | null;
  to: string;
  moved: boolean;
  registered: boolean;
  reason: string | null;
  eval: Record<string, unknown>;
}

export default class ModelsAlias extends BaseCommand<typeof ModelsAlias> {
  static summary = 'Point an alias (NAME@ALIAS) at a version: vN, or a run id (registered under NAME if it is not yet).';
  static description = 'The move is appended to the alias history with the reason and the eval summary of the version at the time. Deployments started with --follow-alias pick the new version up.\n\n--json result: {name, alias, from, to, moved, registered, reason, eval}';
  static examples = [
    '<%= config.bin %> models alias chat@prod v3 --reason "better on the March data"',
    '<%= config.bin %> models alias chat@staging r-20261126-101500-ab12',
  ];

  static args = {
    ref: Args.string({description: 'NAME@ALIAS, e.g. chat@prod.', required: true}),
    version: Args.string({description: 'vN, or a run id / model folder / hf:OWNER/NAME.', required: true}),
  };

  static flags = {reason: Flags.string({summary: 'Why the alias moves (kept in its history).'})};

  async run(): Promise<ModelsAliasResult> {
    const {parseAliasRef, versionFor, moveAlias} = await import('../../lib/registry/registry.js');
    const {trainerValidation, compactSummary} = await import('../../lib/pipeline/eval-adapter.js');
    const loaded = await this.projectConfig();
    const ledger = await this.ledger();
    const {name, alias} = parseAliasRef(this.args.ref);
    const {version: v, created} = versionFor(ledger, loaded.root, name, this.args.version);
    const summary = compactSummary(trainerValidation(ledger, {runId: v.run_id, dir: v.dir, ref: `${name}@v${v.version}`}));
    const r = moveAlias(ledger, {name, alias, version: v.version, reason: this.flags.reason ?? null, evalSummary: summary});
    if (!this.jsonEnabled()) {
      if (created) this.log(`Registered ${v.run_id ?? v.dir ?? v.hf_ref} as ${name}@v${v.version}.`);
      this.log(r.moved ? `${name}@${alias}: ${r.from === null ? '(new)' : `v${r.from}`} -> v${r.to}` : `${name}@${alias} already points at v${r.to}; nothing changed.`);
    }
    return {name, alias, from: r.from === null ? null : `v${r.from}`, to: `v${r.to}`, moved: r.moved, registered: created, reason: this.flags.reason ?? null, eval: summary};
  }
}
