import {BaseCommand} from '../../lib/ui/base-command.js';

export interface ConfigShowResult {
  file: string | null;
  root: string;
  ledger: string;
  config: Record<string, unknown>;
}

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static summary = 'Print the resolved configuration: defaults filled in, secrets masked.';
  static examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json', '<%= config.bin %> config show --config ../other/llmops.yaml'];

  async run(): Promise<ConfigShowResult> {
    const loaded = await this.projectConfig();
    const {maskSecrets} = await import('../../lib/config/mask.js');
    const {ledgerPath} = await import('../../lib/ledger/ledger.js');
    const config = maskSecrets(loaded.config) as Record<string, unknown>;
    const result: ConfigShowResult = {file: loaded.file ?? null, root: loaded.root, ledger: ledgerPath(loaded), config};
    if (!this.jsonEnabled()) {
      const {stringify} = await import('yaml');
      this.log(`# ${loaded.file ?? '(no llmops.yaml found: defaults)'}`);
      this.log(stringify(config).trimEnd());
    }
    return result;
  }
}
