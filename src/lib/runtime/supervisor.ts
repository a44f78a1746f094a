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
  let backend: Backend;
  try {
    backend = await getBackend(run.backend, loaded);
  } catch (error) {
    ledger.setRunStatus(run.id, 'failed', `backend "${run.backend}": ${(error as Error).message}`);
    return {id: run.id, status: 'failed', reason: (error as Error).message};
  }
  const s = new Supervision(ledger, loaded, run, me, backend, opts);
  const ended = await s.submit();
  if (ended) return ended;
  // A supervisor stopped by a signal stops its run rather than leave it unaccounted for.
  const onSignal = (sig: NodeJS.Signals) => {
    log(`supervisor got ${sig}: stopping the run`);
    s.stopCause ??= {graceful: true, cause: 'supervisor', reason: `supervisor received ${sig}`, ts: new Date().toISOString()};
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => undefined);
  try {
    return (await s.poll()) ?? (await s.finalize());
  } catch (error) {
    return await s.crashed(error);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * One supervisor's work on one run, in three parts: submit (start the run, or find it again after
 * a restart), poll (follow it until its process is gone: events, status, stops, budget, lease) and
 * finalize (bring everything home, bill it, decide the final status).
 */
class Supervision {
  readonly spec: RunSpec;
  readonly paths: ReturnType<typeof runPaths>;
  readonly sampleMs: number;
  readonly pollMs: number;
  /** Remote backends are asked less often (a round trip each). */
  readonly remotePollMs: number;
  readonly stopGraceMs: number;
  readonly budget: number | undefined;
  readonly isCommand: boolean;
  readonly state: SupervisorState;
  readonly progress: RunProgress;
  readonly ingestor: EventIngestor;
  readonly meter: CostMeter;
  stopCause: StopRequest | undefined;
  stopSentAt: number | undefined;
  killed = false;
  lastStatus: BackendStatus = {state: 'unknown'};
  /** Why the remote backend's link is down (undefined while it answers). */
  linkDown: string | undefined;

  constructor(
    readonly ledger: Ledger,
    loaded: LoadedConfig,
    public run: RunRow,
    readonly me: LeaseHolder,
    readonly backend: Backend,
    opts: SupervisorOptions,
  ) {
    this.spec = runSpecOf(run);
    this.paths = runPaths(this.spec.runDir);
    this.sampleMs = loaded.config.budget.sample_interval_s * 1000;
    this.pollMs = opts.pollMs ?? Math.max(50, Math.min(1000, this.sampleMs / 2));
    this.remotePollMs = runsHere(backend.type) ? this.pollMs : Math.max(this.pollMs, 2000);
    this.stopGraceMs = (opts.stopGraceS ?? Number(process.env.LLMOPS_STOP_GRACE_S ?? 120)) * 1000;
    this.budget = run.budget_usd ?? undefined;
    this.isCommand = run.kind === 'command';
    ledger.updateRun(run.id, {pid: process.pid});
    this.state = readState(run);
    this.progress = progressOf(run);
    this.ingestor = new EventIngestor(ledger, run.id, this.progress, {
      onRunning: (env) => {
        if (!env) return;
        const lineage = JSON.parse(ledger.getRun(run.id).lineage_json) as Record<string, unknown>;
        lineage.env = env;
        ledger.updateRun(run.id, {lineage_json: JSON.stringify(lineage)});
      },
    });
    this.meter = new CostMeter(ledger, {id: run.id, stage: run.kind, backend: run.backend}, backend.pricing(), {
      phase: 'queue',
      now: this.state.handle ? Date.now() : Date.parse(run.created_at),
      flushEveryMs: opts.costFlushMs ?? 60_000,
      alreadyUsd: ledger.runCost(run.id).usd,
    });
    this.stopSentAt = this.state.stopSent?.at;
    if (this.state.stopSent) this.stopCause = readStopRequest(this.spec.runDir);
  }

  get handle(): BackendHandle {
    return this.state.handle!;
  }

  private saveState(): void {
    this.ledger.updateRun(this.run.id, {backend_state_json: JSON.stringify(this.state)});
  }

  /** Starts the run (or finds it again after a supervisor restart); a result when it ends here. */
  async submit(): Promise<SupervisorResult | undefined> {
    const {ledger, run, state, meter, backend} = this;
    if (state.handle) return undefined;
    const req = readStopRequest(this.spec.runDir);
    if (req) {
      meter.flush();
      ledger.setRunStatus(run.id, 'stopped', `stopped before it started: ${req.reason}`);
      return {id: run.id, status: 'stopped', reason: req.reason};
    }
    meter.enter('setup');
    state.setupAt = Date.now();
    try {
      await backend.check();
      state.handle = await backend.submit(this.spec);
    } catch (error) {
      meter.flush();
      const e = error as Error & {fix?: string};
      const reason = `could not start the run: ${e.message}${e.fix ? `\n${e.fix}` : ''}`;
      ledger.setRunStatus(run.id, 'failed', reason);
      return {id: run.id, status: 'failed', reason};
    }
    ledger.updateRun(run.id, {backend_ref: state.handle.ref});
    this.saveState();
    log(`submitted ${run.id} to ${backend.name} (${state.handle.ref})`);
    return undefined;
  }

  /**
   * Follows the run until its process is gone (then undefined: finalize decides), or returns a
   * result when another supervisor took the run over.
   */
  async poll(): Promise<SupervisorResult | undefined> {
    const {ledger, run, backend, meter, progress} = this;
    const nap = napUntilExit(backend.waitExit?.(this.handle));
    let lastStatusAt = 0;
    let lastRenew = Date.now();
    let lastSample = 0;
    let lastPublish = 0;
    let setRunning = run.status === 'running';
    const pace = new StepPace();
    for (;;) {
      const now = Date.now();
      if (now - lastRenew >= LEASE_RENEW_MS) {
        if (!ledger.leases.renew(run.id, this.me, now)) {
          // Another process took the run over (we were frozen past the timeout): it decides now.
          log(`${run.id}: lease taken over by another supervisor; stopping here`);
          return {id: run.id, status: ledger.getRun(run.id).status, reason: 'supervised by another process'};
        }
        lastRenew = now;
      }
      if (now - lastStatusAt >= this.remotePollMs || runsHere(backend.type)) {
        await this.checkStatus();
        lastStatusAt = now;
      }
      await this.drainEvents({overLink: true});
      await this.mirrorLog({overLink: true});
      const st = this.lastStatus.state;
      if (st === 'queued') meter.enter('queue');
      else if (st === 'running' || st === 'starting' || st === 'exited') {
        // Setup ends at the run's first event (the trainer's "running"); a BYO command bills from its start.
        meter.enter(this.isCommand || progress.firstEventAt !== undefined ? 'run' : 'setup');
        if (!setRunning && st !== 'exited') {
          ledger.setRunStatus(run.id, 'running', `started on ${backend.name} (${this.handle.ref})`);
          setRunning = true;
        }
      }
      if (st === 'exited') return undefined;
      // ---- stop requests: user, Ctrl-C, budget --------------------------------------------
      this.stopCause ??= readStopRequest(this.spec.runDir);
      if (now - lastSample >= this.sampleMs || this.stopCause) {
        lastSample = now;
        await this.sample(now, pace);
      }
      if (!(await this.actOnStop(now))) {
        // Over a dropped link the stop was not sent: it is tried again at the next poll.
        await sleep(this.remotePollMs);
        continue;
      }
      if (now - lastPublish >= Math.max(250, this.pollMs)) {
        this.publish();
        lastPublish = now;
      }
      await nap(runsHere(backend.type) ? this.pollMs : this.remotePollMs);
    }
  }

  /** Asks the backend how the run is; "unknown" or a failure never ends a run: asked again later. */
  private async checkStatus(): Promise<void> {
    try {
      this.lastStatus = (await this.overLink('status', () => this.backend.status(this.handle), (st) => st.state !== 'unknown')) ?? {state: 'unknown'};
    } catch (error) {
      // A local status check that throws: ask again at the next poll.
      if (this.lastStatus.state !== 'unknown') this.ledger.appendEvent(this.run.id, 'status_unknown', {error: (error as Error).message});
      this.lastStatus = {state: 'unknown'};
    }
  }

  /** Cost so far, the budget's look-ahead (it may set a stop), and GPU metrics. */
  private async sample(now: number, pace: StepPace): Promise<void> {
    const {meter, budget, backend, progress, run, ledger} = this;
    meter.tick(now);
    const usd = meter.usd(now);
    pace.observe(progress.step, now);
    const pricePerS = backend.pricing().pricePerHour / 3600;
    const ahead = budgetLookahead(this.sampleMs / 1000, pace.secondsPerStep());
    if (!this.stopCause && budget !== undefined && usd + ahead * pricePerS >= budget) {
      // Stop now, not after: the next interval (a sample, the step in flight, the checkpoint)
      // would carry the total past the budget.
      this.stopCause = {
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
      const metrics = gpuMetrics(await backend.sampleGpus(this.handle).catch(() => []));
      const points = Object.entries(metrics).map(([key, value]) => ({runId: run.id, step: progress.step, key, value, ts: now}));
      ledger.insertMetrics(points);
    }
  }

  /** Sends a pending stop, or the kill after the grace period; false when the link was down. */
  private async actOnStop(now: number): Promise<boolean> {
    const {stopCause, backend} = this;
    if (stopCause && this.stopSentAt === undefined) {
      log(`stopping (${stopCause.cause}, ${stopCause.graceful ? 'graceful' : 'kill'}): ${stopCause.reason}`);
      if ((await this.overLink('stop', async () => backend.stop(this.handle, {graceful: stopCause.graceful}).then(() => true))) !== true) return false;
      this.ledger.appendEvent(this.run.id, 'stop_requested', stopCause);
      this.stopSentAt = now;
      this.state.stopSent = {cause: stopCause.cause, graceful: stopCause.graceful, at: now};
      this.saveState();
    } else if (stopCause && this.stopSentAt !== undefined && !this.killed) {
      const req = readStopRequest(this.spec.runDir);
      if ((req && !req.graceful) || now - this.stopSentAt > this.stopGraceMs) {
        log('graceful stop took too long (or --force): killing the process group');
        this.killed = (await this.overLink('kill', async () => backend.stop(this.handle, {graceful: false}).then(() => true))) === true;
      }
    }
    return true;
  }

  /** The run's process is gone: bring everything home, bill it and decide its final status. */
  async finalize(): Promise<SupervisorResult> {
    const {ledger, run, backend, meter, progress, spec, budget} = this;
    await backend.waitExit?.(this.handle);
    await this.drainEvents({all: true});
    await this.mirrorLog();
    meter.flush();
    // Seconds a dead predecessor metered but never wrote: billed from the run's own timestamps.
    billToTimestamps(ledger, {id: run.id, stage: run.kind, backend: run.backend}, {startMs: this.state.setupAt ?? Date.parse(run.created_at), endMs: runEndMs(spec.runDir) ?? Date.now()}, backend.pricing());
    let fetchError: string | undefined;
    try {
      await backend.fetchArtifacts(this.handle, spec);
    } catch (error) {
      fetchError = (error as Error).message;
    }
    const decided = decideFinal({status: this.lastStatus, progress, stop: this.stopCause, logFile: this.paths.log, isCommand: this.isCommand, fetchError});
    const summary: Record<string, unknown> = {
      live: false,
      progress,
      cost_usd: ledger.runCost(run.id).usd,
      price_per_hour: backend.pricing().pricePerHour,
      price_source: backend.pricing().source,
    };
    let {status, reason} = await this.registerOutputs(decided, summary);
    if (status === 'budget_exceeded' && budget !== undefined) {
      // One figure everywhere: the reason, the summary and `cost` all say the ledger's total.
      const total = ledger.runCost(run.id).usd;
      summary.cost_usd = total;
      reason = `${reason.replace(/stopped at \$[\d.,]+ \(setup and run\)/, `stopped`)}; total cost ${formatUsd(total)} of the ${formatUsd(budget)} budget`;
    }
    ledger.setRunStatus(run.id, status, reason, {
      exitCode: this.lastStatus.exitCode ?? null,
      signal: this.lastStatus.signal ?? null,
      summary,
    });
    log(`${run.id} ${status}: ${reason.split('\n')[0]}`);
    this.run = ledger.getRun(run.id);
    return {id: this.run.id, status: this.run.status, reason: this.run.reason};
  }

  /** Checkpoints and artifacts into the ledger, and the exported model's parity (it may fail the run). */
  private async registerOutputs(decided: {status: RunStatus; reason: string}, summary: Record<string, unknown>): Promise<{status: RunStatus; reason: string}> {
    const {ledger, run, progress, spec} = this;
    for (const c of progress.checkpoints) {
      await registerArtifact(ledger, run.id, {kind: 'checkpoint', path: localizePath(c.path, run.id, spec.runDir), meta: {step: c.step}});
    }
    for (const a of progress.artifacts) {
      await registerArtifact(ledger, run.id, {kind: a.kind, path: localizePath(a.path, run.id, spec.runDir), meta: a.meta});
    }
    const modelDir = progress.artifacts.find((a) => a.kind === 'model');
    if (decided.status !== 'succeeded' || !modelDir || this.isCommand) return decided;
    const dir = localizePath(modelDir.path, run.id, spec.runDir);
    const parity = await checkModelParity(dir);
    summary.parity = parity;
    ledger.appendEvent(run.id, 'parity', parity);
    if (parity.checked && !parity.ok) return {status: 'failed', reason: `export parity check failed: max |onnx - torch| = ${parity.maxAbsDiff} > 1e-4 (${dir})`};
    return decided;
  }

  /** The supervisor itself failed: the run is stopped and the reason recorded (or, for the ledger, thrown). */
  async crashed(error: unknown): Promise<SupervisorResult> {
    const {ledger, run, backend} = this;
    const storage = ledgerStorageError(ledger.file, error, 'writing');
    if (storage) {
      // The ledger takes no writes (a full disk, a read-only file): the run's cost and budget can no
      // longer be kept, so it is stopped gracefully (it checkpoints), and the user error is left to
      // supervisor-main, which records it where `runs list` finds it (crash.ts).
      log(`${run.id}: ${storage.message}: stopping the run`);
      await backend.stop(this.handle, {graceful: true}).catch(() => undefined);
      throw storage;
    }
    // A bug in the supervisor must not leave a run running unaccounted for.
    const msg = `supervisor error: ${(error as Error).stack ?? (error as Error).message}`;
    log(msg);
    try {
      await backend.stop(this.handle, {graceful: true});
    } catch {
      // best effort
    }
    this.meter.flush();
    ledger.setRunStatus(run.id, 'failed', msg.split('\n')[0]!);
    return {id: run.id, status: 'failed', reason: msg};
  }

  /**
   * A remote backend's link may drop for a while (a network blip): what the supervisor asks of it
   * while following the run then fails or says "unknown", and that never ends the run. It asks
   * again at the next poll; the outage is recorded once (status_unknown) and its end once.
   */
  private async overLink<T>(what: string, fn: () => Promise<T>, answered: (v: T) => boolean = () => true): Promise<T | undefined> {
    if (runsHere(this.backend.type)) return fn();
    let v: T;
    try {
      v = await fn();
    } catch (error) {
      this.linkLost(`${what}: ${(error as Error).message}`);
      return undefined;
    }
    // The backend says it cannot tell (ssh: the connection was lost): the same outage.
    if (!answered(v)) this.linkLost(`${what}: ${(v as {detail?: string}).detail ?? 'unknown'}`);
    else if (this.linkDown !== undefined) {
      log(`${this.run.id}: ${this.backend.name} answers again`);
      this.ledger.appendEvent(this.run.id, 'status_known', {after: this.linkDown});
      this.linkDown = undefined;
    }
    return v;
  }

  private linkLost(why: string): void {
    if (this.linkDown === undefined) {
      log(`${this.run.id}: ${why} (asking again at the next poll)`);
      this.ledger.appendEvent(this.run.id, 'status_unknown', {error: why});
    }
    this.linkDown = why;
  }

  private async drainEvents(opts: {all?: boolean; overLink?: boolean} = {}): Promise<void> {
    const {state, backend} = this;
    if (!state.handle) return;
    // A remote read takes a round trip, during which a busy run writes more: within the loop, read
    // again only while there is a backlog, or the loop never reaches stop requests and budgets.
    const started = Date.now();
    for (;;) {
      const from = state.eventsOffset;
      const read = opts.overLink ? await this.overLink('read events', () => backend.readEvents(this.handle, from)) : await backend.readEvents(this.handle, from);
      if (!read || read.offset === from) return;
      this.ingestor.ingest(read.lines, () => {
        state.eventsOffset = read.offset;
        this.saveState();
      });
      if (!opts.all && Date.now() - started > 1000) return;
    }
  }

  private async mirrorLog(opts: {overLink?: boolean} = {}): Promise<void> {
    // The local backend writes logs/run.log itself; remote logs are copied here for `runs logs`.
    const {state, backend} = this;
    if (!state.handle || runsHere(backend.type)) return;
    const from = state.logOffset;
    const read = opts.overLink ? await this.overLink('read the log', () => backend.readLog(this.handle, from)) : await backend.readLog(this.handle, from);
    if (!read || read.offset === from) return;
    appendFileSync(this.paths.log, read.text);
    state.logOffset = read.offset;
    this.saveState();
  }

  private publish(): void {
    const summary = {
      live: true,
      progress: this.progress,
      cost_usd: this.meter.usd(),
      phase: this.meter.currentPhase,
      price_per_hour: this.backend.pricing().pricePerHour,
      updated_at: new Date().toISOString(),
    };
    this.ledger.updateRun(this.run.id, {summary_json: JSON.stringify(summary)});
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
