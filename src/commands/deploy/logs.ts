import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface DeployLogsResult {
  id: string;
  name: string;
  logPath: string;
  text: string;
}

export default class DeployLogs extends BaseCommand<typeof DeployLogs> {
  static summary = "Print a detached or docker deployment's server log.";
  static description = '--json result: {id, name, logPath, text}';
  static examples = ['<%= config.bin %> deploy logs default', '<%= config.bin %> deploy logs default --tail 50'];
  static args = {name: Args.string({description: 'Deployment name or id.', required: true})};
  static flags = {tail: Flags.integer({summary: 'Only the last N lines (0: all).', default: 0, min: 0})};

  async run(): Promise<DeployLogsResult> {
    const ledger = await this.ledger();
    const {getDeployment, getDeploymentLog} = await import('../../lib/serve/deployments.js');
    const row = getDeployment(ledger, this.args.name);
    let r: DeployLogsResult;
    if (row.target === 'docker') {
      const {dockerLogs} = await import('../../lib/serve/docker-target.js');
      r = {id: row.id, name: row.name, logPath: row.log_path ?? '', text: await dockerLogs(row, this.flags.tail)};
    } else if (row.target !== 'local') {
      const {sshLogs} = await import('../../lib/serve/ssh-target.js');
      const cfg = JSON.parse(row.config_json) as {logPath?: string; ssh_host?: string};
      const text = await sshLogs(await this.projectConfig(), row, this.flags.tail);
      r = {id: row.id, name: row.name, logPath: `${cfg.ssh_host}:${cfg.logPath}`, text};
    } else r = getDeploymentLog(ledger, this.args.name, this.flags.tail);
    if (!this.jsonEnabled()) process.stdout.write(r.text.endsWith('\n') || r.text === '' ? r.text : r.text + '\n');
    return r;
  }
}
