import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface RunsStopResult {
  id: string;
  status: string;
  reason: string | null;
  /** Whether the stop went through the run's supervisor or (none alive) straight to its backend. */
  via: 'supervisor' | 'backend';
  /** False with --no-wait: the stop was requested, the run may still be finishing. */
  ended: boolean;
}

export default class RunsStop extends BaseCommand<typeof RunsStop> {
  static summary = 'Stop a run: SIGTERM (the trainer checkpoints, then exits); --force kills it.';
  static examples = ['<%= config.bin %> runs stop r-20261126-101500-ab12', '<%= config.bin %> runs stop r-2026 --force', '<%= config.bin %> runs stop r-2026 --no-wait --json'];
  static args = {id: Args.string({required: true, description: 'Run id (or a unique prefix).'})};
  static flags = {
    force: Flags.boolean({summary: 'Kill the process group at once (no checkpoint).'}),
    wait: Flags.boolean({summary: 'Wait until the run has ended (default).', default: true, allowNo: true}),
    timeout: Flags.integer({summary: 'Seconds to wait for the run to end.', default: 300}),
  };

  async run(): Promise<RunsStopResult> {
    const {requestStop} = await import('../../lib/runtime/stop.js');
    const {followRun} = await import('../../lib/runtime/attach.js');
    const {FINAL_STATUSES} = await import('../../lib/ledger/ledger.js');
    const loaded = await this.projectConfig();
    const ledger = await this.ledger();
    const run = ledger.getRun(this.args.id);
    const {via} = await requestStop(ledger, loaded, run, {force: this.flags.force});
    this.progress(`Stop requested for ${run.id} (${this.flags.force ? 'kill' : 'graceful'}).`);
    let final = ledger.getRun(run.id);
    if (this.flags.wait) {
      const deadline = Date.now() + this.flags.timeout * 1000;
      final = await followRun(ledger, run.id, {pollMs: 300, until: () => Date.now() > deadline});
    }
    const ended = FINAL_STATUSES.has(final.status);
    if (!this.jsonEnabled()) this.log(`${final.id} ${final.status}${final.reason ? `: ${final.reason.split('\n')[0]}` : ''}`);
    return {id: final.id, status: final.status, reason: final.reason, via, ended};
  }
}
