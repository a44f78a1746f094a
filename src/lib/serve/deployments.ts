/**
 * Deployment lifecycle in the ledger: create a record, run attached or spawn a detached server
 * process and wait for it to be healthy, list (noticing servers that died), stop, logs.
 */
import {randomBytes} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {LlmopsError, notFoundError} from '../errors.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import {spawnDetached as startDetached} from '../system/exec.js';
import {isAlive, isOurProcess, signalProcess} from '../system/process.js';
import {lastLines} from '../system/tail.js';
import {nowIso, sleep} from '../util/time.js';

export const newDeploymentId = (): string => `d-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;

export interface DeploymentInfo {
  id: string;
  name: string;
  status: string;
  target: string;
  url: string;
  host: string;
  port: number;
  pid: number | null;
  modelDir: string;
  modelRunId: string | null;
  logPath: string | null;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  requests: number;
}

/** Alive and not a zombie (PID 1 here does not reap orphans: a killed server can linger as one). */
export const pidAlive = (pid: number | null): boolean => isAlive(pid);

/** Whether `pid` is still our server (a recycled pid must never be signalled). */
const isOurServer = (pid: number): boolean => isOurProcess(pid, 'deploy');

export function toInfo(row: DeploymentRow, requests = 0): DeploymentInfo {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    target: row.target,
    url: row.url,
    host: row.host,
    port: row.port,
    pid: row.pid,
    modelDir: row.model_dir,
    modelRunId: row.model_run_id,
    logPath: row.log_path,
    createdAt: row.created_at,
    startedAt: row.started_at,
    stoppedAt: row.stopped_at,
    requests,
  };
}

/** A local server that is recorded as up but whose process is gone is marked failed. */
export function reconcile(ledger: Ledger, row: DeploymentRow): DeploymentRow {
  // Only local servers can be checked from here; a remote one stays as recorded.
  if (row.target === 'local' && (row.status === 'running' || row.status === 'starting') && !pidAlive(row.pid)) {
    ledger.updateDeployment(row.id, {status: 'failed', stopped_at: nowIso()});
    return ledger.findDeployment(row.id)!;
  }
  return row;
}

export function listDeploymentInfos(ledger: Ledger): DeploymentInfo[] {
  const counts = ledger.requestCountsByDeployment();
  return ledger.listDeployments().map((r) => toInfo(reconcile(ledger, r), counts[r.id] ?? 0));
}

export function getDeployment(ledger: Ledger, idOrName: string): DeploymentRow {
  const row = ledger.findDeployment(idOrName);
  if (!row) {
    throw notFoundError(`No deployment named or with id "${idOrName}" in the ledger (${ledger.file}).`, {
      fix: 'Try this: `llmops deploy list` to see deployments.',
    });
  }
  return reconcile(ledger, row);
}

export interface SpawnDetachedOptions {
  ledger: Ledger;
  deploymentId: string;
  /** argv after `node BIN`: the deploy command line for the child (no secrets: keys travel in env). */
  args: string[];
  bin: string;
  logPath: string;
  cwd: string;
  timeoutMs?: number;
}

/**
 * Node flags of a server process. A young generation of at most 8 MB (Node 20 grows it to 16 MB):
 * the model's outputs are external memory that triggers a scavenge every ~70 ms, and with the
 * larger young generation V8 then also restarted incremental marking after every full collection
 * (89 mark-compacts in 150 streams of 200 tokens on the tiny preset, against 1 with 8 MB), about
 * 0.025 ms per token (docs/benchmarks.md, "The server's own cost per streamed token"). V8 reads it
 * only at start-up, so it goes on the command line; the server image sets NODE_OPTIONS instead.
 */
export const SERVER_NODE_ARGS = ['--max-semi-space-size=8'];

/** Starts the server as a detached process and waits until it records itself running and healthy. */
export async function spawnDetached(o: SpawnDetachedOptions): Promise<DeploymentRow> {
  mkdirSync(path.dirname(o.logPath), {recursive: true});
  const child = startDetached(process.execPath, [...SERVER_NODE_ARGS, o.bin, ...o.args], {cwd: o.cwd, logFile: o.logPath});
  o.ledger.updateDeployment(o.deploymentId, {pid: child.pid || null});
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  for (;;) {
    const row = o.ledger.findDeployment(o.deploymentId)!;
    if (row.status === 'running') {
      const ok = await fetch(row.url + '/health').then((r) => r.status === 200, () => false);
      if (ok) return row;
    }
    const exited = child.exitCode();
    if (exited !== null || row.status === 'failed') {
      o.ledger.updateDeployment(o.deploymentId, {status: 'failed', stopped_at: nowIso()});
      throw new LlmopsError('RUN_FAILED', `The server process exited (code ${exited ?? '?'}) before it was ready.\n${lastLines(o.logPath, 15).join('\n')}`, {
        fix: `Try this: llmops deploy logs ${row.name}, or run without --detach to see the error.`,
      });
    }
    if (Date.now() > deadline) {
      if (child.pid) child.kill('SIGKILL');
      o.ledger.updateDeployment(o.deploymentId, {status: 'failed', stopped_at: nowIso()});
      throw new LlmopsError('RUN_FAILED', `The server did not become healthy within ${(o.timeoutMs ?? 120_000) / 1000} s.`, {
        fix: `Try this: llmops deploy logs ${row.name}`,
      });
    }
    await sleep(100);
  }
}

export interface StopResult {
  deployment: DeploymentInfo;
  /** Was it running when asked to stop? */
  wasRunning: boolean;
  /** Did it have to be killed (it ignored SIGTERM)? */
  killed: boolean;
}

/** SIGTERM (the server records its own stop and cost), SIGKILL after `graceMs`. */
export async function stopLocal(ledger: Ledger, row: DeploymentRow, graceMs = 15_000): Promise<StopResult> {
  const running = (row.status === 'running' || row.status === 'starting') && pidAlive(row.pid) && isOurServer(row.pid!);
  let killed = false;
  if (running) {
    const pid = row.pid!;
    signalProcess(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
    if (pidAlive(pid)) {
      signalProcess(pid, 'SIGKILL');
      killed = true;
      while (pidAlive(pid)) await sleep(20);
    }
  }
  const after = ledger.findDeployment(row.id)!;
  if (after.status !== 'stopped') ledger.updateDeployment(row.id, {status: 'stopped', stopped_at: after.stopped_at ?? nowIso()});
  return {deployment: toInfo(ledger.findDeployment(row.id)!), wasRunning: running, killed};
}

export function getDeploymentLog(ledger: Ledger, idOrName: string, tailLines = 0): {id: string; name: string; logPath: string; text: string} {
  const row = ledger.findDeployment(idOrName);
  if (!row) {
    throw notFoundError(`No deployment named or with id "${idOrName}" in the ledger (${ledger.file}).`, {fix: 'Try this: `llmops deploy list`.'});
  }
  if (!row.log_path) {
    throw notFoundError(`Deployment ${row.name} (${row.id}) ran attached: its log went to the terminal that started it.`, {
      fix: 'Try this: deploy with --detach to keep a log file.',
    });
  }
  if (!existsSync(row.log_path)) {
    throw notFoundError(`The log file of ${row.name} (${row.log_path}) does not exist (deleted, or on another machine).`);
  }
  const text = tailLines > 0 ? lastLines(row.log_path, tailLines).join('\n') : readFileSync(row.log_path, 'utf8');
  return {id: row.id, name: row.name, logPath: row.log_path, text};
}
