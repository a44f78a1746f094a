import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {RunMonitorResult} from '../../lib/monitor/index.js';

export default class RunsWatch extends BaseCommand<typeof RunsWatch> {
  static summary = 'Follow a training run: loss curves, tokens/s, GPU, dollars against the budget, stalls.';
  static description = 'The same as `llmops monitor --run ID`. On a terminal it refreshes until the run ends (Ctrl-C to quit); with --once, --json or no terminal it prints one snapshot.';
  static examples = ['<%= config.bin %> runs watch 20261126-101500-tiny-ab12', '<%= config.bin %> runs watch 20261126 --once', '<%= config.bin %> runs watch RUN_ID --json', '<%= config.bin %> runs watch RUN_ID --html run.html'];

  static args = {id: Args.string({description: 'Run id (or a unique prefix).', required: true})};

  static flags = {
    once: Flags.boolean({summary: 'Print one snapshot and exit, even on a terminal.'}),
    html: Flags.string({summary: 'Write a self-contained HTML report of the run to this file.'}),
    interval: Flags.string({summary: 'Refresh interval (e.g. 5s); default monitor.refresh_s.', hidden: true}),
    frames: Flags.integer({summary: 'Stop after this many refreshes.', hidden: true}),
  };

  async run(): Promise<RunMonitorResult> {
    const {runMonitorCommand} = await import('../../lib/monitor/command.js');
    const watch = !this.flags.once && !this.jsonEnabled() && Boolean(process.stdout.isTTY);
    return runMonitorCommand({
      loaded: await this.projectConfig(),
      ledger: await this.ledger(),
      runId: this.args.id,
      watch: watch || this.flags.frames !== undefined,
      html: this.flags.html,
      interval: this.flags.interval,
      frames: this.flags.frames,
      io: {log: (s: string) => this.log(s), warn: (s: string) => this.progress(s), json: this.jsonEnabled()},
    });
  }
}
