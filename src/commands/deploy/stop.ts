import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {StopResult} from '../../lib/serve/deployments.js';

export default class DeployStop extends BaseCommand<typeof DeployStop> {
  static summary = 'Stop a deployment (by name or id) and record it in the ledger.';
  static description = 'A docker deployment: `docker stop` (SIGTERM, then SIGKILL after --grace), its log kept in .llmops/deployments/ID.log, the container removed. Otherwise sends SIGTERM (the server finishes recording requests and cost), then SIGKILL after --grace seconds. Stopping a deployment that is already stopped is not an error.\n\n--json result: {deployment: {...as in deploy list}, wasRunning, killed}';
  static examples = ['<%= config.bin %> deploy stop default', '<%= config.bin %> deploy stop d-20261126-1a2b3c --json'];
  static args = {name: Args.string({description: 'Deployment name or id.', required: true})};
  static flags = {grace: Flags.integer({summary: 'Seconds to wait after SIGTERM before SIGKILL.', default: 15, min: 0})};

  async run(): Promise<StopResult> {
    const ledger = await this.ledger();
    const {getDeployment, stopLocal} = await import('../../lib/serve/deployments.js');
    const row = getDeployment(ledger, this.args.name);
    let result: StopResult;
    if (row.target === 'local') result = await stopLocal(ledger, row, this.flags.grace * 1000);
    else {
      const {stopOnBackend} = await import('../../lib/serve/targets.js');
      result = await stopOnBackend(await this.projectConfig(), ledger, row, this.flags.grace);
    }
    if (!this.jsonEnabled()) {
      this.log(result.wasRunning ? `Stopped ${row.name} (${row.id})${result.killed ? ' with SIGKILL' : ''}.` : `${row.name} (${row.id}) was not running; recorded as stopped.`);
    }
    return result;
  }
}
