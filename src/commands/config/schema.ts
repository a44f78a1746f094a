import {BaseCommand} from '../../lib/ui/base-command.js';

export default class ConfigSchema extends BaseCommand<typeof ConfigSchema> {
  static summary = 'Print the JSON Schema of llmops.yaml.';
  static description =
    'Editors that speak yaml-language-server complete and check llmops.yaml with it; the scaffolded file points at it with a `# yaml-language-server: $schema=` comment.';
  static examples = ['<%= config.bin %> config schema > llmops.schema.json', '<%= config.bin %> config schema --json'];

  async run(): Promise<Record<string, unknown>> {
    const {configJsonSchema} = await import('../../lib/config/schema.js');
    const schema = configJsonSchema();
    if (!this.jsonEnabled()) this.log(JSON.stringify(schema, null, 2));
    return schema;
  }
}
