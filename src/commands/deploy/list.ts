import {BaseCommand} from '../../lib/ui/base-command.js';
import type {DeploymentInfo} from '../../lib/serve/deployments.js';

export interface DeployListResult {
  deployments: DeploymentInfo[];
}

export default class DeployList extends BaseCommand<typeof DeployList> {
  static summary = 'List deployments, newest first, with their status, address and request count.';
  static description = 'A local server recorded as running whose process is gone is marked failed.\n\n--json result: {deployments: [{id, name, status, target, url, host, port, pid, modelDir, modelRunId, logPath, createdAt, startedAt, stoppedAt, requests}]}';
  static examples = ['<%= config.bin %> deploy list', '<%= config.bin %> deploy list --json'];

  async run(): Promise<DeployListResult> {
    const ledger = await this.ledger();
    const {listDeploymentInfos} = await import('../../lib/serve/deployments.js');
    const deployments = listDeploymentInfos(ledger);
    if (!this.jsonEnabled()) {
      if (deployments.length === 0) this.log('No deployments yet. Try this: `llmops deploy --model RUN_ID`.');
      else {
        const {renderTable} = await import('../../lib/ui/output.js');
        this.log(
          renderTable(deployments, [
            {header: 'NAME', get: (d) => d.name},
            {header: 'ID', get: (d) => d.id},
            {header: 'STATUS', get: (d) => d.status},
            {header: 'TARGET', get: (d) => d.target},
            {header: 'URL', get: (d) => d.url},
            {header: 'PID', get: (d) => d.pid},
            {header: 'MODEL', get: (d) => d.modelRunId ?? d.modelDir},
            {header: 'REQUESTS', get: (d) => d.requests, align: 'right'},
            {header: 'CREATED', get: (d) => d.createdAt.replace('T', ' ').slice(0, 19)},
          ]),
        );
      }
    }
    return {deployments};
  }
}
