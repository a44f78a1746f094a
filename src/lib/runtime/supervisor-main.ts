/**
 * The supervisor's process entry: `node dist/lib/runtime/supervisor-main.js RUN_ID [CONFIG]`.
 * Started by launch.ts instead of `llmops runs supervise` because loading oclif and the command
 * tree costs a second or more of a run's wall time on a busy machine (docs/benchmarks.md "## Runs").
 */
import {loadConfig} from '../config/load.js';
import {Ledger} from '../ledger/ledger.js';
import {supervise} from './supervisor.js';

const [runId, configFile] = process.argv.slice(2);
if (!runId) {
  process.stderr.write('usage: supervisor-main.js RUN_ID [CONFIG]\n');
  process.exit(2);
}
const loaded = loadConfig({file: configFile || undefined});
const ledger = Ledger.forProject(loaded);
try {
  const r = await supervise(ledger, loaded, runId);
  process.stdout.write(`${r.id} ${r.status}\n`);
} finally {
  ledger.close();
}
