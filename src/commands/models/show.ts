import {Args} from '@oclif/core';
import type {ModelInfo} from '../../lib/registry/registry.js';
import {BaseCommand} from '../../lib/ui/base-command.js';

export default class ModelsShow extends BaseCommand<typeof ModelsShow> {
  static summary = "Show a named model's versions, its aliases, and every alias move with its reason and eval summary.";
  static description = '--json result: {name, versions: [{version, label, source, runId, dir, hfRef, createdAt, aliases}], aliases: {ALIAS: {version, since}}, history: [{ts, alias, action, from, to, reason, actor, eval}]}';
  static examples = ['<%= config.bin %> models show chat', '<%= config.bin %> models show chat --json'];
  static args = {name: Args.string({description: 'Model name.', required: true})};

  async run(): Promise<ModelInfo> {
    const {showModel} = await import('../../lib/registry/registry.js');
    const info = showModel(await this.ledger({readonly: true}), this.args.name);
    if (!this.jsonEnabled()) {
      this.log(`${info.name}`);
      for (const v of info.versions) {
        this.log(`  ${v.label.padEnd(5)} ${v.source.padEnd(4)} ${(v.runId ?? v.dir ?? v.hfRef ?? '').padEnd(28)} ${v.createdAt}${v.aliases.length > 0 ? '  <- ' + v.aliases.join(', ') : ''}`);
      }
      if (info.history.length > 0) this.log('alias history:');
      for (const h of info.history) {
        const ev = Object.entries(h.eval).filter(([k]) => k !== 'at' && k !== 'source').map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(5)) : String(v)}`).join(', ');
        this.log(`  ${h.ts}  ${h.alias}: ${h.from ?? '(new)'} -> ${h.to}  ${h.action}${h.reason ? `  "${h.reason}"` : ''}  by ${h.actor}${ev ? `  [${ev}]` : ''}`);
      }
    }
    return info;
  }
}
