/**
 * Reconciling the ledger with reality: runs left queued or running whose supervisor is gone, and
 * runs declared lost whose true end turned up later.
 *
 * Cheap by design (every command that reads runs calls it). Liveness is a lease, not a pid check
 * (lease.ts, docs/runs.md "Leases"): a supervisor renews its row every second, so a fresh lease means
 * a live supervisor even when it runs in another pid namespace, container or host sharing the folder.
 * Only when the holder is gone (its host says so, or the lease is stale past the timeout where we
 * cannot look) is the run taken over, by a compare-and-swap on the lease row, so concurrent callers
 * act at most once:
 *   - the run's process still alive, or the backend says it is still going: a new supervisor adopts
 *     it and follows it to the end; a remote status check that throws or says "unknown" never ends a run;
 *   - otherwise whatever the events file still holds is ingested, the run becomes what its last
 *     status event or exit.json says (else failed, or lost), and its cost is billed from its own
 *     timestamps.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import type {LoadedConfig} from '../config/load.js';
import {billToTimestamps} from '../cost/bill.js';
import type {Ledger, RunRow} from '../ledger/ledger.js';
import {LOST_REVISIT_MS} from '../domain/run.js';
import {isOurProcess} from '../system/process.js';
import {readLinesFrom} from '../system/tail.js';
import type {BackendStatus} from './backend.js';
import {localRunState} from './backends/local.js';
import {readStopRequest} from './control.js';
import {readSupervisorCrash} from './crash.js';
import {EventIngestor} from './ingest.js';
import {holderGone, leaseHolder, leaseTimeoutMs} from './lease.js';
import {runPaths} from './paths.js';
import {runEndMs} from './run-end.js';
import {decideFinal, progressOf, runSpecOf, type SupervisorState} from './supervisor.js';

/** A run whose supervisor has not taken its lease yet is left alone this long (it may be starting). */
const START_GRACE_MS = 30_000;
/** Lost runs younger than this are looked at again for later evidence of how they ended. */

export interface ReconcileOutcome {
  id: string;
  action: 'alive' | 'restarted-supervisor' | 'settled' | 'revised';
  status?: string;
}

function stateOf(run: RunRow): SupervisorState {
  try {
    if (run.backend_state_json) return {eventsOffset: 0, logOffset: 0, ...(JSON.parse(run.backend_state_json) as Partial<SupervisorState>)};
  } catch {
    // keep the defaults
  }
  return {eventsOffset: 0, logOffset: 0};
}

/** Whether the run's supervisor is (or may still be) at work. */
function supervised(ledger: Ledger, run: RunRow, now: number): boolean {
  const lease = ledger.leases.get(run.id);
  if (lease) return !holderGone(lease, now);
  // No lease yet: a supervisor being started (no pid yet), or one from before leases (pid check).
  if (!run.pid && now - Date.parse(run.created_at) < START_GRACE_MS) return true;
  return isOurProcess(run.pid, run.id);
}

export async function reconcileRuns(ledger: Ledger, opts: {loaded?: LoadedConfig; now?: number} = {}): Promise<ReconcileOutcome[]> {
  const out: ReconcileOutcome[] = [];
  const now = opts.now ?? Date.now();
  for (const run of ledger.runsWithStatus(['queued', 'running'])) {
    if (supervised(ledger, run, now)) {
      out.push({id: run.id, action: 'alive'});
      continue;
    }
    out.push(await takeOver(ledger, run, opts.loaded));
  }
  for (const run of ledger.runsWithStatus(['lost'], new Date(now - LOST_REVISIT_MS).toISOString())) {
    const revised = reviseLost(ledger, run);
    if (revised) out.push(revised);
  }
  return out;
}

async function loadFor(run: RunRow, loaded?: LoadedConfig): Promise<LoadedConfig | undefined> {
  if (loaded) return loaded;
  // Called from a read command with only the ledger: the run's own project config will do.
  try {
    const {loadConfig} = await import('../config/load.js');
    return loadConfig({cwd: runSpecOf(run).projectRoot});
  } catch {
    return undefined;
  }
}

/**
 * Is the run's own process still going? 'unknown' never ends a run. 'unstarted': its supervisor
 * died before submitting it (a local run creates its events file before it starts the process, so
 * no events file means no process): a new supervisor starts it.
 */
async function runProcessState(run: RunRow, state: SupervisorState, loaded?: LoadedConfig): Promise<'alive' | 'gone' | 'unknown' | 'unstarted'> {
  const handle = state.handle;
  if (!handle) return run.backend_type === 'local' && !existsSync(runPaths(runSpecOf(run).runDir).events) ? 'unstarted' : 'gone';
  if (existsSync(runPaths(runSpecOf(run).runDir).exit)) return 'gone';
  if (run.backend_type === 'local') return localRunState(handle.state as Parameters<typeof localRunState>[0]);
  if (!loaded) return 'unknown';
  try {
    const {getBackend} = await import('./backends/index.js');
    const st: BackendStatus = await (await getBackend(run.backend, loaded)).status(handle);
    if (st.state === 'exited') return 'gone';
    return st.state === 'unknown' ? 'unknown' : 'alive';
  } catch {
    // A network blip is not the end of a run.
    return 'unknown';
  }
}

async function takeOver(ledger: Ledger, run: RunRow, given?: LoadedConfig): Promise<ReconcileOutcome> {
  const loaded = await loadFor(run, given);
  // The compare-and-swap: of all processes reconciling now, one takes the run; the others see a
  // fresh lease (ours) and leave it alone.
  const me = leaseHolder();
  if (!ledger.leases.acquire(run.id, me, {now: Date.now(), holderGone: (row) => holderGone(row)})) {
    return {id: run.id, action: 'alive'};
  }
  const state = stateOf(run);
  const proc = await runProcessState(run, state, loaded);
  if (proc === 'unknown' && !loaded) {
    ledger.leases.release(run.id, me.owner);
    return {id: run.id, action: 'alive'};
  }
  if (proc !== 'gone' && loaded) {
    const {startSupervisor} = await import('./launch.js');
    const pid = startSupervisor(loaded, run.id, runPaths(runSpecOf(run).runDir).supervisorLog, {leaseOwner: me.owner});
    // The lease now names the new supervisor, not us: we exit soon, and a reconciler that then
    // found our pid gone would take the run over again.
    ledger.leases.acquire(run.id, leaseHolder(me.owner, pid), {now: Date.now(), holderGone: () => false});
    ledger.updateRun(run.id, {pid});
    const why = proc === 'alive' ? 'alive' : proc === 'unstarted' ? 'not started yet' : 'not known to be gone';
    ledger.appendEvent(run.id, 'supervisor_restarted', {pid, reason: `previous supervisor gone, run process ${why}`});
    return {id: run.id, action: 'restarted-supervisor'};
  }
  try {
    return settle(ledger, run, state, loaded);
  } finally {
    ledger.leases.release(run.id, me.owner);
  }
}

async function billFromTimestamps(ledger: Ledger, run: RunRow, state: SupervisorState, loaded?: LoadedConfig): Promise<void> {
  if (!loaded) return;
  const end = runEndMs(runSpecOf(run).runDir);
  if (end === undefined || !state.handle) return;
  try {
    const {getBackend} = await import('./backends/index.js');
    const price = (await getBackend(run.backend, loaded)).pricing();
    billToTimestamps(ledger, {id: run.id, stage: run.kind, backend: run.backend}, {startMs: state.setupAt ?? Date.parse(run.created_at), endMs: end}, price);
  } catch {
    // no price to bill at (a backend removed from llmops.yaml): the metered entries stand
  }
}

function ingestRest(ledger: Ledger, run: RunRow, state: SupervisorState) {
  const paths = runPaths(runSpecOf(run).runDir);
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
  return {progress, status, paths};
}

async function settle(ledger: Ledger, run: RunRow, state: SupervisorState, loaded?: LoadedConfig): Promise<ReconcileOutcome> {
  const spec = runSpecOf(run);
  const {progress, status, paths} = ingestRest(ledger, run, state);
  const known = status.state === 'exited';
  const decided = decideFinal({status, progress, stop: readStopRequest(spec.runDir), logFile: paths.log, isCommand: run.kind === 'command'});
  let final = decided.status;
  let reason = decided.reason;
  const crash = readSupervisorCrash(spec.runDir);
  // A supervisor that stopped the run because it could not go on (a full disk): that is why it ended.
  if (crash && final !== 'succeeded') reason = `${crash}; ${reason}`;
  if (!known && final === 'failed') {
    final = 'lost';
    reason = `the supervisor and the run's process are gone without a final status (${reason.replace(/^ended \(exit status unknown\)/, 'exit status unknown')})`;
  }
  await billFromTimestamps(ledger, run, state, loaded);
  ledger.setRunStatus(run.id, final, `reconciled: ${reason}`, {
    exitCode: status.exitCode ?? null,
    signal: status.signal ?? null,
    summary: {live: false, progress, reconciled: true, cost_usd: ledger.runCost(run.id).usd},
  });
  return {id: run.id, action: 'settled', status: final};
}

/** A lost run whose exit.json or final status event arrived since: it moves to its true status. */
function reviseLost(ledger: Ledger, run: RunRow): ReconcileOutcome | undefined {
  const spec = runSpecOf(run);
  const paths = runPaths(spec.runDir);
  const state = stateOf(run);
  const hasExit = existsSync(paths.exit);
  let grown = false;
  try {
    grown = statSync(paths.events).size > state.eventsOffset;
  } catch {
    grown = false;
  }
  if (!hasExit && !grown) return undefined;
  const {progress, status} = ingestRest(ledger, run, state);
  const decided = decideFinal({status, progress, stop: readStopRequest(spec.runDir), logFile: paths.log, isCommand: run.kind === 'command'});
  const finalEvent = progress.reportedStatus && progress.reportedStatus !== 'running';
  if (status.state !== 'exited' && !finalEvent) return undefined;
  if (!ledger.reviseLostRun(run.id, decided.status, `revised after it was declared lost: ${decided.reason}`, {exitCode: status.exitCode ?? null, signal: status.signal ?? null})) {
    return undefined;
  }
  return {id: run.id, action: 'revised', status: decided.status};
}
