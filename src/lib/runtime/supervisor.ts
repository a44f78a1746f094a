/**
 * The supervisor: one detached process per run (`llmops runs supervise RUN_ID`) that drives the
 * run's backend through the Backend interface only, records everything in the ledger and decides
 * the run's final status. It outlives the CLI that started it, so a closed terminal or a killed
 * `llmops train` never loses a run.
 */
import {appendFileSync, existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {billToTimestamps} from '../cost/bill.js';
import {CostMeter} from '../cost/meter.js';
import {formatUsd} from '../util/format.js';
import {ledgerStorageError} from '../ledger/fs-errors.js';
import type {LeaseHolder} from '../ledger/lease-store.js';
import type {Ledger, RunRow, RunStatus} from '../ledger/ledger.js';
import {FINAL_STATUSES} from '../ledger/ledger.js';
import {localizePath, registerArtifact} from './artifacts.js';
import {runsHere, type Backend, type BackendHandle, type BackendStatus, type RunSpec} from './backend.js';
import {decodeRunSpec} from './run-spec.js';
import {getBackend} from './backends/index.js';
import {readStopRequest, type StopRequest} from './control.js';
import {gpuMetrics} from './gpu.js';
import {EventIngestor, emptyProgress, type RunProgress} from './ingest.js';
import {holderGone, LEASE_RENEW_MS, leaseHolder, leaseTimeoutMs} from './lease.js';
import {runPaths} from './paths.js';
import {runEndMs} from './run-end.js';
import {lastLines} from '../system/tail.js';
import {sleep} from '../util/time.js';

export interface SupervisorState {
  handle?: BackendHandle;
  eventsOffset: number;
  logOffset: number;
  /** When the run's setup began (ms): the start of its billed time (cost/bill.ts). */
  setupAt?: number;
  /** Set once a stop was sent to the backend, so a restarted supervisor does not send it again. */
  stopSent?: {cause: string; graceful: boolean; at: number};
}

export interface SupervisorOptions {
  /** How often events are read (ms). Defaults from budget.sample_interval_s (at most 1 s). */
  pollMs?: number;
  /** Seconds a graceful stop may take before the process group is killed. */
  stopGraceS?: number;
  /** Cost entries are written at least this often (ms). */
  costFlushMs?: number;
}

export interface SupervisorResult {
  id: string;
  status: RunStatus;
  reason: string | null;
}


function readState(run: RunRow): SupervisorState {
  if (!run.backend_state_json) return {eventsOffset: 0, logOffset: 0};
  try {
    const s = JSON.parse(run.backend_state_json) as Partial<SupervisorState>;
    return {eventsOffset: 0, logOffset: 0, ...s};
  } catch {
    return {eventsOffset: 0, logOffset: 0};
  }
}

/** The run's RunSpec (run-spec.ts decodes it). */
export function runSpecOf(run: RunRow): RunSpec {
  return decodeRunSpec(run);
}

export function progressOf(run: RunRow): RunProgress {
  const p = emptyProgress();
  try {
    const s = JSON.parse(run.summary_json) as {progress?: Partial<RunProgress>};
    if (s.progress) Object.assign(p, s.progress);
  } catch {
    // an unreadable summary: start from nothing; metrics are in the metrics table anyway
  }
  return p;
}

/** A line of the supervisor's own log (its stderr goes to logs/supervisor.log). */
function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

export async function supervise(ledger: Ledger, loaded: LoadedConfig, runId: string, opts: SupervisorOptions = {}): Promise<SupervisorResult> {
  const run = ledger.getRun(runId);
  if (FINAL_STATUSES.has(run.status)) return {id: run.id, status: run.status, reason: run.reason};
  // One supervisor per run: the lease (taken for us by the adopter, or free for a new run).
  const me = leaseHolder(process.env.LLMOPS_LEASE_OWNER || undefined);
  if (!ledger.leases.acquire(run.id, me, {now: Date.now(), holderGone: (row) => holderGone(row)})) {
    log(`${run.id}: another supervisor holds the run; leaving it to that one`);
    return {id: run.id, status: run.status, reason: 'supervised by another process'};
  }
  try {
    return await superviseHeld(ledger, loaded, run, me, opts);
  } finally {
    ledger.leases.release(run.id, me.owner);
  }
}

async function superviseHeld(ledger: Ledger, loaded: LoadedConfig, run: RunRow, me: LeaseHolder, opts: SupervisorOptions): Promise<SupervisorResult> {
  const spec = runSpecOf(run);
  const paths = runPaths(spec.runDir);
  const sampleMs = loaded.config.budget.sample_interval_s * 1000;
  const pollMs = opts.pollMs ?? Math.max(50, Math.min(1000, sampleMs / 2));
  const stopGraceMs = (opts.stopGraceS ?? Number(process.env.LLMOPS_STOP_GRACE_S ?? 120)) * 1000;
  const budget = run.budget_usd ?? undefined;

  let backend: Backend;
  try {
    backend = await getBackend(run.backend, loaded);
  } catch (error) {
    ledger.setRunStatus(run.id, 'failed', `backend "${run.backend}": ${(error as Error).message}`);
    return {id: run.id, status: 'failed', reason: (error as Error).message};
  }
  const remotePollMs = runsHere(backend.type) ? pollMs : Math.max(pollMs, 2000);
  ledger.updateRun(run.id, {pid: process.pid});
  const state = readState(run);
  const saveState = () => ledger.updateRun(run.id, {backend_state_json: JSON.stringify(state)});
  const progress = progressOf(run);
  const ingestor = new EventIngestor(ledger, run.id, progress, {
    onRunning: (env) => {
      if (!env) return;
      const lineage = JSON.parse(ledger.getRun(run.id).lineage_json) as Record<string, unknown>;
      lineage.env = env;
      ledger.updateRun(run.id, {lineage_json: JSON.stringify(lineage)});
    },
  });
  const already = ledger.runCost(run.id).usd;
  const meter = new CostMeter(ledger, {id: run.id, stage: run.kind, backend: run.backend}, backend.pricing(), {
    phase: 'queue',
    now: state.handle ? Date.now() : Date.parse(run.created_at),
    flushEveryMs: opts.costFlushMs ?? 60_000,
    alreadyUsd: already,
  });

  let stopCause: StopRequest | undefined;
  let stopSentAt: number | undefined = state.stopSent?.at;
  let killed = false;
  if (state.stopSent) stopCause = readStopRequest(spec.runDir);

  // A remote backend's link may drop for a while (a network blip): what the supervisor asks of it
  // while following the run then fails or says "unknown", and that never ends the run. It asks
  // again at the next poll; the outage is recorded once (status_unknown) and its end once.
  let linkDown: string | undefined;
  const overLink = async <T>(what: string, fn: () => Promise<T>, answered: (v: T) => boolean = () => true): Promise<T | undefined> => {
    if (runsHere(backend.type)) return fn();
    try {
      const v = await fn();
      if (!answered(v)) {
        // The backend says it cannot tell (ssh: the connection was lost): the same outage.
        if (linkDown === undefined) {
          linkDown = `${what}: ${(v as {detail?: string}).detail ?? 'unknown'}`;
          log(`${run.id}: ${linkDown} (asking again at the next poll)`);
          ledger.appendEvent(run.id, 'status_unknown', {error: linkDown});
        }
        return v;
      }
      if (linkDown !== undefined) {
        log(`${run.id}: ${backend.name} answers again`);
        ledger.appendEvent(run.id, 'status_known', {after: linkDown});
        linkDown = undefined;
      }
      return v;
    } catch (error) {
      const msg = `${what}: ${(error as Error).message}`;
      if (linkDown === undefined) {
        log(`${run.id}: ${msg} (asking again at the next poll)`);
        ledger.appendEvent(run.id, 'status_unknown', {error: msg});
      }
      linkDown = msg;
      return undefined;
    }
  };

  const drainEvents = async (opts: {all?: boolean; overLink?: boolean} = {}): Promise<void> => {
    if (!state.handle) return;
    // A remote read takes a round trip, during which a busy run writes more: within the loop, read
    // again only while there is a backlog, or the loop never reaches stop requests and budgets.
    const started = Date.now();
    for (;;) {
      const read = opts.overLink ? await overLink('read events', () => backend.readEvents(state.handle!, state.eventsOffset)) : await backend.readEvents(state.handle, state.eventsOffset);
      if (!read) return;
      const {lines, offset} = read;
      if (offset === state.eventsOffset) return;
      ingestor.ingest(lines, () => {
        state.eventsOffset = offset;
        saveState();
      });
      if (!opts.all && Date.now() - started > 1000) return;
    }
  };
  const mirrorLog = async (opts: {overLink?: boolean} = {}): Promise<void> => {
    // The local backend writes logs/run.log itself; remote logs are copied here for `runs logs`.
    if (!state.handle || runsHere(backend.type)) return;
    const read = opts.overLink ? await overLink('read the log', () => backend.readLog(state.handle!, state.logOffset)) : await backend.readLog(state.handle, state.logOffset);
    if (!read) return;
    const {text, offset} = read;
    if (offset === state.logOffset) return;
    appendFileSync(paths.log, text);
    state.logOffset = offset;
    saveState();
  };
  const publish = () => {
    const summary = {
      live: true,
      progress,
      cost_usd: meter.usd(),
      phase: meter.currentPhase,
      price_per_hour: backend.pricing().pricePerHour,
      updated_at: new Date().toISOString(),
    };
    ledger.updateRun(run.id, {summary_json: JSON.stringify(summary)});
  };

  // ---- submit (or find the run again after a supervisor restart) --------------------------
  if (!state.handle) {
    const req = readStopRequest(spec.runDir);
    if (req) {
      meter.flush();
      ledger.setRunStatus(run.id, 'stopped', `stopped before it started: ${req.reason}`);
      return {id: run.id, status: 'stopped', reason: req.reason};
    }
    meter.enter('setup');
    state.setupAt = Date.now();
    try {
      await backend.check();
      state.handle = await backend.submit(spec);
    } catch (error) {
      meter.flush();
      const e = error as Error & {fix?: string};
      const reason = `could not start the run: ${e.message}${e.fix ? `\n${e.fix}` : ''}`;
      ledger.setRunStatus(run.id, 'failed', reason);
      return {id: run.id, status: 'failed', reason};
    }
    ledger.updateRun(run.id, {backend_ref: state.handle.ref});
    saveState();
    log(`submitted ${run.id} to ${backend.name} (${state.handle.ref})`);
  }
  const handle = state.handle;

  // A supervisor stopped by a signal stops its run rather than leave it unaccounted for.
  const onSignal = (sig: NodeJS.Signals) => {
    log(`supervisor got ${sig}: stopping the run`);
    if (!stopCause) stopCause = {graceful: true, cause: 'supervisor', reason: `supervisor received ${sig}`, ts: new Date().toISOString()};
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => undefined);

  const nap = napUntilExit(backend.waitExit?.(handle));
  let lastStatus: BackendStatus = {state: 'unknown'};
  let lastStatusAt = 0;
  let lastRenew = Date.now();
  const pace = new StepPace();
  let lastSample = 0;
  let lastPublish = 0;
  let setRunning = run.status === 'running';
  const isCommand = run.kind === 'command';

  try {
    for (;;) {
      const now = Date.now();
      if (now - lastRenew >= LEASE_RENEW_MS) {
        if (!ledger.leases.renew(run.id, me, now)) {
          // Another process took the run over (we were frozen past the timeout): it decides now.
          log(`${run.id}: lease taken over by another supervisor; stopping here`);
          return {id: run.id, status: ledger.getRun(run.id).status, reason: 'supervised by another process'};
        }
        lastRenew = now;
      }
      if (now - lastStatusAt >= remotePollMs || runsHere(backend.type)) {
        try {
          // "unknown" (the link is down) is not the end of a run either: ask again at the next poll.
          lastStatus = (await overLink('status', () => backend.status(handle), (st) => st.state !== 'unknown')) ?? {state: 'unknown'};
        } catch (error) {
          // A local status check that throws: ask again at the next poll.
          if (lastStatus.state !== 'unknown') ledger.appendEvent(run.id, 'status_unknown', {error: (error as Error).message});
          lastStatus = {state: 'unknown'};
        }
        lastStatusAt = now;
      }
      await drainEvents({overLink: true});
      await mirrorLog({overLink: true});

      if (lastStatus.state === 'queued') meter.enter('queue');
      else if (lastStatus.state === 'running' || lastStatus.state === 'starting' || lastStatus.state === 'exited') {
        // Setup ends at the run's first event (the trainer's "running"); a BYO command bills from its start.
        meter.enter(isCommand || progress.firstEventAt !== undefined ? 'run' : 'setup');
        if (!setRunning && lastStatus.state !== 'exited') {
          ledger.setRunStatus(run.id, 'running', `started on ${backend.name} (${handle.ref})`);
          setRunning = true;
        }
      }
      if (lastStatus.state === 'exited') break;

      // ---- stop requests: user, Ctrl-C, budget --------------------------------------------
      if (!stopCause) stopCause = readStopRequest(spec.runDir);
      if (now - lastSample >= sampleMs || stopCause) {
        lastSample = now;
        meter.tick(now);
        const usd = meter.usd(now);
        pace.observe(progress.step, now);
        const pricePerS = backend.pricing().pricePerHour / 3600;
        const ahead = budgetLookahead(sampleMs / 1000, pace.secondsPerStep());
        if (!stopCause && budget !== undefined && usd + ahead * pricePerS >= budget) {
          // Stop now, not after: the next interval (a sample, the step in flight, the checkpoint)
          // would carry the total past the budget.
          stopCause = {
            // Before the first step there is nothing to checkpoint, and waiting for the trainer to
            // finish loading would itself cross the budget: the process group is killed instead.
            graceful: progress.step > 0,
            cause: 'budget',
            reason: `budget ${formatUsd(budget)}: stopped at ${formatUsd(usd)} (setup and run), as the next ${ahead.toFixed(1)} s (${pace.secondsPerStep() === undefined ? 'no step measured yet' : `${pace.secondsPerStep()!.toFixed(2)} s/step measured`}) would cross it`,
            ts: new Date().toISOString(),
          };
          ledger.appendEvent(run.id, 'budget', {usd, budget, lookahead_s: ahead, seconds_per_step: pace.secondsPerStep() ?? null});
        }
        if (backend.sampleGpus && meter.currentPhase === 'run') {
          const metrics = gpuMetrics(await backend.sampleGpus(handle).catch(() => []));
          const points = Object.entries(metrics).map(([key, value]) => ({runId: run.id, step: progress.step, key, value, ts: now}));
          ledger.insertMetrics(points);
        }
      }
      if (stopCause && stopSentAt === undefined) {
        log(`stopping (${stopCause.cause}, ${stopCause.graceful ? 'graceful' : 'kill'}): ${stopCause.reason}`);
        // Over a dropped link the stop is not sent: it is tried again at the next poll.
        if ((await overLink('stop', async () => backend.stop(handle, {graceful: stopCause!.graceful}).then(() => true))) !== true) {
          await sleep(remotePollMs);
          continue;
        }
        ledger.appendEvent(run.id, 'stop_requested', stopCause);
        stopSentAt = now;
        state.stopSent = {cause: stopCause.cause, graceful: stopCause.graceful, at: now};
        saveState();
      } else if (stopCause && stopSentAt !== undefined && !killed) {
        const req = readStopRequest(spec.runDir);
        if ((req && !req.graceful) || now - stopSentAt > stopGraceMs) {
          log('graceful stop took too long (or --force): killing the process group');
          killed = (await overLink('kill', async () => backend.stop(handle, {graceful: false}).then(() => true))) === true;
        }
      }
      if (now - lastPublish >= Math.max(250, pollMs)) {
        publish();
        lastPublish = now;
      }
      await nap(runsHere(backend.type) ? pollMs : remotePollMs);
    }

    // ---- the run's process is gone: bring everything home and decide --------------------
    await backend.waitExit?.(handle);
    await drainEvents({all: true});
    await mirrorLog();
    meter.flush();
    // Seconds a dead predecessor metered but never wrote: billed from the run's own timestamps.
    billToTimestamps(ledger, {id: run.id, stage: run.kind, backend: run.backend}, {startMs: state.setupAt ?? Date.parse(run.created_at), endMs: runEndMs(spec.runDir) ?? Date.now()}, backend.pricing());
    let fetchError: string | undefined;
    try {
      await backend.fetchArtifacts(handle, spec);
    } catch (error) {
      fetchError = (error as Error).message;
    }
    const decided = decideFinal({status: lastStatus, progress, stop: stopCause, logFile: paths.log, isCommand, fetchError});
    let {status, reason} = decided;
    const summary: Record<string, unknown> = {
      live: false,
      progress,
      cost_usd: ledger.runCost(run.id).usd,
      price_per_hour: backend.pricing().pricePerHour,
      price_source: backend.pricing().source,
    };

    // ---- artifacts and parity --------------------------------------------------------------
    for (const c of progress.checkpoints) {
      await registerArtifact(ledger, run.id, {kind: 'checkpoint', path: localizePath(c.path, run.id, spec.runDir), meta: {step: c.step}});
    }
    for (const a of progress.artifacts) {
      await registerArtifact(ledger, run.id, {kind: a.kind, path: localizePath(a.path, run.id, spec.runDir), meta: a.meta});
    }
    const modelDir = progress.artifacts.find((a) => a.kind === 'model');
    if (status === 'succeeded' && modelDir && !isCommand) {
      const dir = localizePath(modelDir.path, run.id, spec.runDir);
      const parity = await checkModelParity(dir);
      summary.parity = parity;
      ledger.appendEvent(run.id, 'parity', parity);
      if (parity.checked && !parity.ok) {
        status = 'failed';
        reason = `export parity check failed: max |onnx - torch| = ${parity.maxAbsDiff} > 1e-4 (${dir})`;
      }
    }
    if (status === 'budget_exceeded' && budget !== undefined) {
      // One figure everywhere: the reason, the summary and `cost` all say the ledger's total.
      const total = ledger.runCost(run.id).usd;
      summary.cost_usd = total;
      reason = `${reason.replace(/stopped at \$[\d.,]+ \(setup and run\)/, `stopped`)}; total cost ${formatUsd(total)} of the ${formatUsd(budget)} budget`;
    }
    ledger.setRunStatus(run.id, status, reason, {
      exitCode: lastStatus.exitCode ?? null,
      signal: lastStatus.signal ?? null,
      summary,
    });
    log(`${run.id} ${status}: ${reason.split('\n')[0]}`);
    run = ledger.getRun(run.id);
    return {id: run.id, status: run.status, reason: run.reason};
  } catch (error) {
    const storage = ledgerStorageError(ledger.file, error, 'writing');
    if (storage) {
      // The ledger takes no writes (a full disk, a read-only file): the run's cost and budget can no
      // longer be kept, so it is stopped gracefully (it checkpoints), and the user error is left to
      // supervisor-main, which records it where `runs list` finds it (crash.ts).
      log(`${run.id}: ${storage.message}: stopping the run`);
      await backend.stop(handle, {graceful: true}).catch(() => undefined);
      throw storage;
    }
    // A bug in the supervisor must not leave a run running unaccounted for.
    const msg = `supervisor error: ${(error as Error).stack ?? (error as Error).message}`;
    log(msg);
    try {
      await backend.stop(handle, {graceful: true});
    } catch {
      // best effort
    }
    meter.flush();
    ledger.setRunStatus(run.id, 'failed', msg.split('\n')[0]!);
    return {id: run.id, status: 'failed', reason: msg};
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * A sleep between polls that ends early when the run's local process exits, so a finished run is
 * recorded at once. The exit is waited on once for the whole run: a new wait per poll would pile up
 * reactions on the exit promise for as long as the run goes (hours of polls). A backend that cannot
 * wait (a supervisor that adopted a running process is not its parent) settles at once: then every
 * nap is the full interval, never a busy loop.
 */
export function napUntilExit(exiting: Promise<void> | undefined): (ms: number) => Promise<void> {
  let settled = false;
  let wake: (() => void) | undefined;
  void exiting?.then(
    () => {
      settled = true;
      wake?.();
    },
    () => {
      settled = true;
    },
  );
  return (ms) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      if (settled) return;
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
}

/** Measured seconds per step, from the steps the supervisor has seen go by. */
export class StepPace {
  private first?: {step: number; at: number};
  private last?: {step: number; at: number};

  observe(step: number, at: number): void {
    if (step <= 0) return;
    if (!this.first) this.first = {step, at};
    else if (step > (this.last?.step ?? this.first.step)) this.last = {step, at};
  }

  secondsPerStep(): number | undefined {
    if (!this.first || !this.last || this.last.step <= this.first.step) return undefined;
    return (this.last.at - this.first.at) / 1000 / (this.last.step - this.first.step);
  }
}

/**
 * Seconds of cost still to come if the run is not stopped now: the next sampling interval, the
 * step in flight and one more (a graceful stop finishes its step, then checkpoints), and the
 * stop itself (LLMOPS_STOP_ALLOWANCE_S, default 2 s: process exit and the checkpoint's write).
 */
export function budgetLookahead(sampleS: number, secondsPerStep: number | undefined): number {
  const allowance = Number(process.env.LLMOPS_STOP_ALLOWANCE_S ?? 2);
  return sampleS + 2 * (secondsPerStep ?? 0) + (Number.isFinite(allowance) ? allowance : 2);
}

export interface ParityOutcome {
  checked: boolean;
  ok: boolean;
  maxAbsDiff: number | null;
  /** The bound checked against (1e-4 for float32 graphs; looser for float16 logits). */
  threshold?: number;
  note?: string;
}

/** The exported model against torch's logits (src/lib/runtime/parity.ts, onnxruntime-node). */
export async function checkModelParity(modelDir: string): Promise<ParityOutcome> {
  if (!existsSync(path.join(modelDir, 'parity_inputs.json'))) {
    return {checked: false, ok: false, maxAbsDiff: null, note: 'no parity_inputs.json in the model dir'};
  }
  // export_hf.py names its graph (onnx/model_fp16.onnx for fp16); export.py writes onnx/model.onnx.
  let graph = path.join('onnx', 'model.onnx');
  try {
    graph = (JSON.parse(readFileSync(path.join(modelDir, 'parity_inputs.json'), 'utf8')) as {onnx?: string}).onnx ?? graph;
  } catch {
    // an unreadable file is reported by checkParity below
  }
  if (!existsSync(path.join(modelDir, graph))) {
    return {checked: false, ok: false, maxAbsDiff: null, note: `no ${graph} in the model dir`};
  }
  let mod: {checkParity?: (dir: string) => Promise<{maxAbsDiff: number; ok: boolean; threshold?: number}>};
  try {
    // Imported only here: it loads onnxruntime, which nothing else in the supervisor needs.
    mod = await import('./parity.js');
  } catch (error) {
    return {checked: false, ok: false, maxAbsDiff: null, note: `parity module unavailable: ${(error as Error).message}`};
  }
  if (!mod.checkParity) return {checked: false, ok: false, maxAbsDiff: null, note: 'parity module has no checkParity'};
  try {
    const r = await mod.checkParity(modelDir);
    return {checked: true, ok: r.ok, maxAbsDiff: r.maxAbsDiff, ...(r.threshold === undefined ? {} : {threshold: r.threshold})};
  } catch (error) {
    return {checked: true, ok: false, maxAbsDiff: null, note: `parity check could not run: ${(error as Error).message}`};
  }
}

/** The final status of a run whose process has exited, and the reason a user reads. */
export function decideFinal(input: {
  status: BackendStatus;
  progress: RunProgress;
  stop?: StopRequest;
  logFile: string;
  isCommand: boolean;
  fetchError?: string;
}): {status: RunStatus; reason: string} {
  const {status: s, progress: p, stop} = input;
  const tail = () => {
    const lines = lastLines(input.logFile, 20);
    return lines.length > 0 ? `\nlast log lines:\n${lines.join('\n')}` : '';
  };
  // A scheduler's word (Slurm CANCELLED, TIMEOUT...) stays in the reason whatever the outcome.
  const how = `${s.signal ? `killed by ${s.signal}` : s.exitCode === null || s.exitCode === undefined ? 'ended (exit status unknown)' : `exited with code ${s.exitCode}`}${s.detail ? `; ${s.detail}` : ''}`;
  if (stop?.cause === 'budget') return {status: 'budget_exceeded', reason: `${stop.reason}; run stopped (${how})`};
  if (input.fetchError) return {status: 'failed', reason: `could not bring the artifacts back: ${input.fetchError}`};
  const reported = p.reportedStatus;
  if (reported === 'succeeded' && (s.exitCode === 0 || s.exitCode === null || s.exitCode === undefined) && !s.signal) {
    return {status: 'succeeded', reason: 'the run reported success'};
  }
  if (reported === 'stopped' || (stop && (reported === undefined || reported === 'running' || reported === 'stopped'))) {
    const why = stop ? stop.reason : p.reportedReason ?? 'the run reported it stopped';
    return {status: 'stopped', reason: `${why} (${how})`};
  }
  if (reported === 'failed') {
    return {status: 'failed', reason: `${p.reportedReason ?? 'the run reported failure'} (${how})${tail()}`};
  }
  if (!s.signal && s.exitCode === 0) {
    return {status: 'succeeded', reason: input.isCommand ? 'the command exited with code 0' : 'exited with code 0 (no final status event)'};
  }
  return {status: 'failed', reason: `${how}${tail()}`};
}
