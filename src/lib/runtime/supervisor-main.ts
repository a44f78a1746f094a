/**
 * The supervisor's process entry: `node dist/lib/runtime/supervisor-main.js RUN_ID [CONFIG]`.
 * Started by launch.ts instead of `llmops runs supervise RUN_ID` because loading oclif and the command
 * tree costs a second or more of a run's wall time on a busy machine (docs/benchmarks.md "## Runs").
 */
import {loadConfig} from '../config/load.js';
import {Ledger} from '../ledger/ledger.js';
import {recordSupervisorCrash} from './crash.js';
import {supervise} from './supervisor.js';

const [runId, configFile] = process.argv.slice(2);
if (!runId) {
  process.stderr.write('usage: supervisor-main.js RUN_ID [CONFIG]\n');
  process.exit(2);
}
let ledger: Ledger | undefined;
try {
  const loaded = loadConfig({file: configFile || undefined});
  ledger = Ledger.forProject(loaded);
  const r = await supervise(ledger, loaded, runId);
  process.stdout.write(`${r.id} ${r.status}\n`);
} catch (error) {
  // A full disk or a read-only ledger: leave the reason where `runs list` will find it.
  recordSupervisorCrash(ledger, runId, error);
  process.exitCode = 1;
} finally {
  ledger?.close();
}
