import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface RunsLogsResult {
  id: string;
  status: string;
  path: string;
  /** The log text printed (under --json: the whole log, or what --follow saw). */
  text: string;
}

export default class RunsLogs extends BaseCommand<typeof RunsLogs> {
  static summary = "Print a run's log (timestamped stdout and stderr); --follow until the run ends.";
  static examples = ['<%= config.bin %> runs logs r-20261126-101500-ab12', '<%= config.bin %> runs logs r-2026 --follow', '<%= config.bin %> runs logs r-2026 --tail 50'];
  static args = {id: Args.string({required: true, description: 'Run id (or a unique prefix).'})};
  static flags = {
    follow: Flags.boolean({char: 'f', summary: 'Keep printing new lines until the run ends.'}),
    tail: Flags.integer({summary: 'Only the last N lines (before following).', min: 0}),
    supervisor: Flags.boolean({summary: "The supervisor's log instead of the run's."}),
  };

  async run(): Promise<RunsLogsResult> {
    const {runPaths} = await import('../../lib/runtime/paths.js');
    const {readTextFrom, lastLines} = await import('../../lib/system/tail.js');
    const {sleep} = await import('../../lib/util/time.js');
    const {FINAL_STATUSES} = await import('../../lib/ledger/ledger.js');
    const {reconcileRuns} = await import('../../lib/runtime/reconcile.js');
    const ledger = await this.ledger();
    await reconcileRuns(ledger, {loaded: await this.projectConfig()});
    let run = ledger.getRun(this.args.id);
    const paths = runPaths(run.run_dir);
    const file = this.flags.supervisor ? paths.supervisorLog : paths.log;
    const json = this.jsonEnabled();
    let collected = '';
    const emit = (text: string) => {
      if (!text) return;
      collected += text;
      if (!json) process.stdout.write(text);
    };
    let offset = 0;
    if (this.flags.tail !== undefined) {
      const lines = lastLines(file, this.flags.tail);
      emit(lines.length > 0 ? lines.join('\n') + '\n' : '');
      const {statSync, existsSync} = await import('node:fs');
      offset = existsSync(file) ? statSync(file).size : 0;
    }
    let lastReconcile = Date.now();
    for (;;) {
      for (;;) {
        const r = readTextFrom(file, offset);
        if (r.offset === offset) break;
        emit(r.text);
        offset = r.offset;
      }
      if (!this.flags.follow) break;
      run = ledger.getRun(run.id);
      if (FINAL_STATUSES.has(run.status)) {
        emit(readTextFrom(file, offset).text);
        break;
      }
      if (Date.now() - lastReconcile > 5000) {
        lastReconcile = Date.now();
        await reconcileRuns(ledger, {loaded: await this.projectConfig()});
      }
      await sleep(300);
    }
    return {id: run.id, status: run.status, path: file, text: collected};
  }
}
