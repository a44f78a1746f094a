import type {PipelineStatusResult} from '../../lib/pipeline/status.js';
import {BaseCommand} from '../../lib/ui/base-command.js';

export default class PipelineStatus extends BaseCommand<typeof PipelineStatus> {
  static summary = "Show each pipeline stage's last execution, its age, and whether it is stale now.";
  static description = 'Stale means `llmops pipeline run` would run it, for the reason shown. Nothing is run or recorded.\n\n--json result: {lastExecution, stages: [{name, kind, lastExecution: {executionId, status, endedAt, ageS, output, error}, stale, reason}]}';
  static examples = ['<%= config.bin %> pipeline status', '<%= config.bin %> pipeline status --json'];

  async run(): Promise<PipelineStatusResult> {
    const {pipelineStatus, renderStatus} = await import('../../lib/pipeline/status.js');
    const loaded = await this.projectConfig({required: true});
    const r = await pipelineStatus({ledger: await this.ledger(), loaded, progress: () => {}});
    if (!this.jsonEnabled()) for (const l of renderStatus(r)) this.log(l);
    return r;
  }
}
