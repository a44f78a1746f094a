import {BaseCommand} from '../../lib/ui/base-command.js';

export interface ModelsListResult {
  models: Array<{name: string; versions: number; latest: string; aliases: Record<string, string>}>;
}

export default class ModelsList extends BaseCommand<typeof ModelsList> {
  static summary = 'List the named models of the registry, with their versions and aliases.';
  static description = '--json result: {models: [{name, versions, latest, aliases: {ALIAS: vN}}]}';
  static examples = ['<%= config.bin %> models list', '<%= config.bin %> models list --json'];

  async run(): Promise<ModelsListResult> {
    const {listModels} = await import('../../lib/registry/registry.js');
    const models = listModels(await this.ledger({readonly: true}));
    if (!this.jsonEnabled()) {
      if (models.length === 0) this.log('No models registered. Try: llmops models register NAME RUN_ID');
      for (const m of models) {
        const aliases = Object.entries(m.aliases).map(([a, v]) => `${a}=${v}`).join(' ');
        this.log(`${m.name.padEnd(20)} ${String(m.versions).padStart(3)} version${m.versions === 1 ? ' ' : 's'}  latest ${m.latest.padEnd(5)} ${aliases}`);
      }
    }
    return {models};
  }
}
