import {Args} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {SupervisorResult} from '../../lib/runtime/supervisor.js';

export default class RunsSupervise extends BaseCommand<typeof RunsSupervise> {
  static hidden = true;
  static summary = 'Supervise a run until it ends (started detached by `llmops train`; not for direct use).';
  static examples = ['<%= config.bin %> runs supervise r-20261126-101500-ab12'];
  static args = {id: Args.string({required: true, description: 'Run id.'})};

  async run(): Promise<SupervisorResult> {
    const {supervise} = await import('../../lib/runtime/supervisor.js');
    const loaded = await this.projectConfig();
    const ledger = await this.ledger();
    const result = await supervise(ledger, loaded, this.args.id);
    this.log(`${result.id} ${result.status}`);
    return result;
  }
}
