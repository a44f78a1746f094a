/**
 * Reconciling the ledger with reality: a run left queued or running whose supervisor is gone.
 *
 * Cheap by design (every command that reads runs calls it): only runs in queued/running state are
 * looked at, and for each only a pid check. When the supervisor is dead:
 *   - the run's process still alive (local), or the backend says it is still going (remote):
 *     a new supervisor is started and picks up at the saved event offset;
 *   - otherwise whatever the events file still holds is ingested, and the run becomes what its
 *     last status event says, else failed (exit code/signal known) or lost, with the log's tail.
 */
import {existsSync, readFileSync} from 'node:fs';
import type {LoadedConfig} from '../config/load.js';
import type {Ledger, RunRow} from '../ledger/ledger.js';
import {runsHere, type BackendStatus} from './backend.js';
import {EventIngestor} from './ingest.js';
import {runPaths} from './paths.js';
import {groupAlive, isOurProcess} from '../system/process.js';
import {decideFinal, progressOf, runSpecOf, type SupervisorState} from './supervisor.js';
import {readLinesFrom} from '../system/tail.js';
import {readStopRequest} from './control.js';
import {readSupervisorCrash} from './crash.js';

/** A run whose supervisor never wrote its pid is left alone this long (it may be starting). */
const START_GRACE_MS = 30_000;

export interface ReconcileOutcome {
  id: string;
  action: 'alive' | 'restarted-supervisor' | 'settled';
  status?: string;
}

function supervisorAlive(run: RunRow): boolean {
  return isOurProcess(run.pid, run.id);
}

export async function reconcileRuns(ledger: Ledger, opts: {loaded?: LoadedConfig; now?: number} = {}): Promise<ReconcileOutcome[]> {
  const active = ledger.runs.active();
  const out: ReconcileOutcome[] = [];
  const now = opts.now ?? Date.now();
  for (const run of active) {
    if (supervisorAlive(run)) {
      out.push({id: run.id, action: 'alive'});
      continue;
    }
    if (!run.pid && now - Date.parse(run.created_at) < START_GRACE_MS) {
      out.push({id: run.id, action: 'alive'});
      continue;
    }
    out.push(await settle(ledger, run, opts.loaded));
  }
  return out;
}

async function settle(ledger: Ledger, run: RunRow, loaded?: LoadedConfig): Promise<ReconcileOutcome> {
  const spec = runSpecOf(run);
  const paths = runPaths(spec.runDir);
  let state: SupervisorState = {eventsOffset: 0, logOffset: 0};
  try {
    if (run.backend_state_json) state = {...state, ...(JSON.parse(run.backend_state_json) as Partial<SupervisorState>)};
  } catch {
    // keep the defaults
  }
  const handle = state.handle;
  if (!loaded) {
    // Called from a read command with only the ledger: the run's own project config will do.
    try {
      const {loadConfig} = await import('../config/load.js');
      loaded = loadConfig({cwd: spec.projectRoot});
    } catch {
      loaded = undefined;
    }
  }
  const localPid = runsHere(run.backend_type) && handle ? Number((handle.state as {pid?: number}).pid) : undefined;
  // The run's process is still going without its supervisor: give it a new one.
  if (localPid && groupAlive(localPid)) {
    if (loaded) {
      const {startSupervisor} = await import('./launch.js');
      const pid = startSupervisor(loaded, run.id, paths.supervisorLog);
      ledger.updateRun(run.id, {pid});
      ledger.appendEvent(run.id, 'supervisor_restarted', {pid, reason: 'previous supervisor gone, run process alive'});
      return {id: run.id, action: 'restarted-supervisor'};
    }
    return {id: run.id, action: 'alive'};
  }
  if (handle && !runsHere(run.backend_type) && loaded) {
    // A remote run may well be going on without us: ask its backend before declaring it dead.
    try {
      const {getBackend} = await import('./backends/index.js');
      const backend = await getBackend(run.backend, loaded);
      const st = await backend.status(handle);
      if (st.state !== 'exited' && st.state !== 'unknown') {
        const {startSupervisor} = await import('./launch.js');
        const pid = startSupervisor(loaded, run.id, paths.supervisorLog);
        ledger.updateRun(run.id, {pid});
        ledger.appendEvent(run.id, 'supervisor_restarted', {pid, reason: `previous supervisor gone, backend says ${st.state}`});
        return {id: run.id, action: 'restarted-supervisor'};
      }
    } catch {
      // unreachable backend: settle from what we have locally
    }
  }
  // Ingest whatever the local events file still holds past the saved offset.
  const progress = progressOf(run);
  const ingestor = new EventIngestor(ledger, run.id, progress);
  for (;;) {
    const {lines, offset} = readLinesFrom(paths.events, state.eventsOffset);
    if (offset === state.eventsOffset) break;
    ingestor.ingest(lines, () => {
      state.eventsOffset = offset;
      ledger.updateRun(run.id, {backend_state_json: JSON.stringify(state)});
    });
  }
  let status: BackendStatus = {state: 'unknown', exitCode: null, signal: null};
  if (existsSync(paths.exit)) {
    const info = JSON.parse(readFileSync(paths.exit, 'utf8')) as {exitCode: number | null; signal: string | null};
    status = {state: 'exited', exitCode: info.exitCode, signal: info.signal};
  }
  const known = status.state === 'exited';
  const decided = decideFinal({status, progress, stop: readStopRequest(spec.runDir), logFile: paths.log, isCommand: run.kind === 'command'});
  let final = decided.status;
  let reason = decided.reason;
  const crash = readSupervisorCrash(spec.runDir);
  if (crash && (final === 'failed' || !known)) reason = `${crash}; ${reason}`;
  if (!known && final === 'failed') {
    final = 'lost';
    reason = `the supervisor and the run's process are gone without a final status (${reason.replace(/^ended \(exit status unknown\)/, 'exit status unknown')})`;
  }
  ledger.setRunStatus(run.id, final, `reconciled: ${reason}`, {
    exitCode: status.exitCode ?? null,
    signal: status.signal ?? null,
    summary: {live: false, progress, reconciled: true},
  });
  return {id: run.id, action: 'settled', status: final};
}
