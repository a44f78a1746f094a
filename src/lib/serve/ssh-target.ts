/**
 * Deploying to an SSH backend: the model folder and this llmops build travel to the host with rsync,
 * the host runs `llmops deploy --detach` there (its own ledger records the requests), and /health is
 * checked from here through an `ssh -L` tunnel before the deployment is recorded.
 */
import {existsSync} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {LoadedConfig} from '../config/load.js';
import {backendError} from '../errors.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import {capture, spawnBackground} from '../system/exec.js';
import {rsyncPush, shq, sshCheck, sshOptions, sshRun, sshTarget, type SshTarget} from '../system/ssh.js';
import {nowIso, sleep} from '../util/time.js';
import {newDeploymentId, toInfo, type DeploymentInfo, type StopResult} from './deployments.js';

type SshBackendConfig = Extract<LoadedConfig['config']['backends'][string], {type: 'ssh'}>;

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface SshDeployParams {
  backendName: string;
  backend: SshBackendConfig;
  name: string;
  modelDir: string;
  modelRunId: string | null;
  port?: number;
  apiKey?: string;
  apiKeyEnv?: string;
  progress: (m: string) => void;
}

interface RemoteState {
  remoteDir: string;
  serverDir: string;
  remotePort: number;
  remotePid: number;
  remoteId: string;
  logPath: string;
}

/** Production dependencies as directories relative to the package root (what the server needs). */
async function prodModules(): Promise<string[]> {
  const r = await capture('npm', ['ls', '--omit=dev', '--all', '--parseable'], {cwd: PACKAGE_ROOT});
  return r.stdout
    .split('\n')
    .map((l) => path.relative(PACKAGE_ROOT, l.trim()))
    .filter((l) => l.startsWith('node_modules'));
}

/** Copies dist/, bin/, package files and the production node_modules into serverDir on the host. */
async function syncServer(t: SshTarget, serverDir: string, progress: (m: string) => void): Promise<void> {
  const local = await import('node:os');
  const probe = await sshCheck(t, 'node -p "process.version + \' \' + process.arch + \' \' + process.platform" 2>/dev/null || echo missing', 'check Node.js on the host');
  const here = `${process.version} ${process.arch} ${local.platform()}`;
  if (probe.trim() === 'missing') {
    throw backendError(`Node.js is not installed on ${t.host}; the server needs Node ${process.version.split('.')[0]}.`, {fix: 'Try this: install Node.js 20 on the host (e.g. from nodesource), then rerun.'});
  }
  await sshCheck(t, `mkdir -p ${shq(serverDir)}`, 'create the server directory');
  const files = ['dist', 'bin', 'package.json', 'package-lock.json', 'oclif.manifest.json'].filter((f) => existsSync(path.join(PACKAGE_ROOT, f)));
  progress(`Copying llmops (${files.join(', ')}) to ${t.host}:${serverDir}...`);
  await rsyncPush(t, files.map((f) => path.join(PACKAGE_ROOT, f)), serverDir, {delete: false});
  if (probe.trim() === here) {
    // Same Node ABI, CPU and OS: the native modules built here (better-sqlite3, onnxruntime) run there.
    const mods = await prodModules();
    progress(`Copying ${mods.length} production packages...`);
    const rsh = ['ssh', ...sshOptions(t)].map(shq).join(' ');
    const r = await capture('rsync', ['-a', '--relative', '-e', rsh, ...mods.map((m) => `./${m}`), `${t.host}:${serverDir}/`], {cwd: PACKAGE_ROOT, timeoutMs: 30 * 60_000});
    if (!r.ok) throw backendError(`rsync of node_modules to ${t.host} failed: ${r.stderr.slice(-300)}`);
  } else {
    progress(`The host runs ${probe.trim()} (here: ${here}): installing dependencies there with npm ci...`);
    await sshCheck(t, `cd ${shq(serverDir)} && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund`, 'install the server dependencies on the host', {timeoutMs: 30 * 60_000});
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Opens `ssh -N -L` to the remote port, runs fn with the local URL, closes the tunnel. */
export async function throughTunnel<T>(t: SshTarget, remotePort: number, fn: (url: string) => Promise<T>): Promise<T> {
  const localPort = await freePort();
  const child = spawnBackground('ssh', [...sshOptions(t), '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'ExitOnForwardFailure=yes', '-N', '-L', `127.0.0.1:${localPort}:127.0.0.1:${remotePort}`, t.host]);
  try {
    const url = `http://127.0.0.1:${localPort}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const up = await fetch(url + '/health').then((r) => r.status, () => 0);
      if (up === 200) break;
      if (child.exited() || Date.now() > deadline) {
        throw backendError(`The server on ${t.host} did not answer /health through an SSH tunnel (last status ${up || 'no answer'}).`, {
          fix: 'Try this: llmops deploy logs NAME to read its log on the host.',
        });
      }
      await sleep(200);
    }
    return await fn(url);
  } finally {
    child.kill('SIGTERM');
  }
}

export async function deploySsh(p: SshDeployParams, loaded: LoadedConfig, ledger: Ledger): Promise<DeploymentInfo> {
  const t = sshTarget(p.backend);
  const id = newDeploymentId();
  const workdir = p.backend.workdir;
  const remoteDir = `${workdir}/deployments/${id}`;
  const serverDir = `${workdir}/llmops-server`;
  await sshCheck(t, `mkdir -p ${shq(remoteDir)}`, 'create the deployment directory');
  p.progress(`Copying the model to ${t.host}:${remoteDir}/model...`);
  await rsyncPush(t, [p.modelDir.replace(/\/?$/, '/')], `${remoteDir}/model`);
  await syncServer(t, serverDir, p.progress);
  const pricePerHour = p.backend.price_per_hour ?? loaded.config.deploy.price_per_hour;
  const args = ['deploy', '--model', `${remoteDir}/model`, '--name', p.name, '--port', String(p.port ?? 0), '--detach', '--json'];
  if (p.apiKey) args.push('--api-key-env', 'LLMOPS_API_KEY');
  // The key travels on stdin, never on a command line (visible in ps) or in a file.
  const script = `${p.apiKey ? 'IFS= read -r LLMOPS_API_KEY; export LLMOPS_API_KEY; ' : ''}cd ${shq(serverDir)} && LLMOPS_DB=${shq(`${remoteDir}/ledger.db`)} CI=1 NO_COLOR=1 node bin/run.js ${args.map(shq).join(' ')}`;
  p.progress(`Starting the server on ${t.host}...`);
  const r = await sshRun(t, script, {input: p.apiKey ? p.apiKey + '\n' : '', timeoutMs: 180_000, retries: 0});
  let remote: {id: string; pid: number; port: number; logPath: string};
  try {
    remote = JSON.parse(r.stdout) as typeof remote;
    if (!r.ok) throw new Error('failed');
  } catch {
    throw backendError(`Starting the server on ${t.host} failed (exit ${r.exitCode}): ${(r.stdout + r.stderr).trim().slice(-600)}`, {fix: 'Try this: check Node.js 20 on the host, then rerun.'});
  }
  await throughTunnel(t, remote.port, async () => undefined);
  const state: RemoteState = {remoteDir, serverDir, remotePort: remote.port, remotePid: remote.pid, remoteId: remote.id, logPath: remote.logPath};
  const hostOnly = t.host.includes('@') ? t.host.slice(t.host.indexOf('@') + 1) : t.host;
  ledger.insertDeployment({
    id,
    name: p.name,
    status: 'running',
    model_run_id: p.modelRunId,
    model_dir: p.modelDir,
    target: p.backendName,
    host: hostOnly,
    port: remote.port,
    url: `http://127.0.0.1:${remote.port}`,
    pid: remote.pid,
    log_path: null,
    price_per_hour: pricePerHour,
    started_at: nowIso(),
    config_json: JSON.stringify({backend: p.backendName, ssh_host: t.host, ...state, api_key_env: p.apiKeyEnv ?? null}),
  });
  p.progress(`Serving ${p.name} on ${t.host} (remote port ${remote.port}, pid ${remote.pid}). Reach it with: ssh -N -L 8000:127.0.0.1:${remote.port} ${t.host}`);
  return toInfo(ledger.findDeployment(id)!);
}

function remoteOf(loaded: LoadedConfig, row: DeploymentRow): {t: SshTarget; state: RemoteState; backend: SshBackendConfig} {
  const cfg = JSON.parse(row.config_json) as RemoteState & {backend: string};
  const backend = loaded.config.backends[cfg.backend ?? row.target];
  if (!backend || backend.type !== 'ssh') {
    throw backendError(`Deployment ${row.name} ran on backend "${row.target}", which llmops.yaml no longer defines as an ssh backend.`, {fix: `Try this: restore backends.${row.target} in llmops.yaml.`});
  }
  return {t: sshTarget(backend), state: cfg, backend};
}

export async function stopSsh(loaded: LoadedConfig, ledger: Ledger, row: DeploymentRow): Promise<StopResult> {
  const {t, state} = remoteOf(loaded, row);
  const wasRunning = row.status === 'running';
  if (wasRunning) {
    const r = await sshRun(t, `cd ${shq(state.serverDir)} && LLMOPS_DB=${shq(`${state.remoteDir}/ledger.db`)} CI=1 node bin/run.js deploy stop ${shq(state.remoteId)} --json`, {timeoutMs: 60_000});
    if (!r.ok) throw backendError(`Stopping ${row.name} on ${t.host} failed: ${(r.stdout + r.stderr).trim().slice(-400)}`);
    const started = row.started_at ? Date.parse(row.started_at) : Date.parse(row.created_at);
    ledger.addCost({
      deploymentId: row.id,
      stage: 'serve',
      phase: 'serve',
      backend: row.target,
      resource: 'cpu',
      seconds: Math.max(0, (Date.now() - started) / 1000),
      pricePerHour: row.price_per_hour,
      priceSource: `backends.${row.target}.price_per_hour or deploy.price_per_hour`,
      meta: {model_run_id: row.model_run_id, host: t.host},
    });
  }
  ledger.updateDeployment(row.id, {status: 'stopped', stopped_at: nowIso()});
  return {deployment: toInfo(ledger.findDeployment(row.id)!), wasRunning, killed: false};
}

export async function sshLogs(loaded: LoadedConfig, row: DeploymentRow, tailLines: number): Promise<string> {
  const {t, state} = remoteOf(loaded, row);
  return sshCheck(t, tailLines > 0 ? `tail -n ${tailLines} ${shq(state.logPath)}` : `cat ${shq(state.logPath)}`, 'read the server log');
}
