import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface DeployLogsResult {
  id: string;
  name: string;
  logPath: string;
  text: string;
}

export default class DeployLogs extends BaseCommand<typeof DeployLogs> {
  static summary = "Print a detached deployment's server log.";
  static description = '--json result: {id, name, logPath, text}';
  static examples = ['<%= config.bin %> deploy logs default', '<%= config.bin %> deploy logs default --tail 50'];
  static args = {name: Args.string({description: 'Deployment name or id.', required: true})};
  static flags = {tail: Flags.integer({summary: 'Only the last N lines (0: all).', default: 0, min: 0})};

  async run(): Promise<DeployLogsResult> {
    const ledger = await this.ledger({readonly: true});
    const {getDeploymentLog} = await import('../../lib/serve/deployments.js');
    const r = getDeploymentLog(ledger, this.args.name, this.flags.tail);
    if (!this.jsonEnabled()) process.stdout.write(r.text.endsWith('\n') || r.text === '' ? r.text : r.text + '\n');
    return r;
  }
}
