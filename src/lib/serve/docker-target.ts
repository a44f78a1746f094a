/**
 * `llmops deploy --target docker`: the server image run as a container on this machine.
 *
 * - The model folder is mounted read-only at /models (unless the image has one baked in and no
 *   --model is given); the port is published on --host (127.0.0.1 unless an API key is set).
 * - Requests reach the project's ledger because the ledger's folder is mounted into the
 *   container and the server there writes to it (LLMOPS_DB), as a local server does; the
 *   container runs as the owner of that folder so the files it writes stay the user's.
 * - `deploy stop` stops the container (SIGTERM: the server records its stop and cost), keeps its
 *   log in .llmops/deployments/ID.log and removes it.
 */
import {existsSync, mkdirSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LlmopsError, notFoundError, usageError} from '../errors.js';
import {containerState, engineCapture, engineRun, findEngine, imageExists, inspectImage, lastLines, type ContainerEngine} from '../image/engine.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import {nowIso} from '../util/time.js';
import {latestModel, readApiKey, type DeployResult} from './deploy.js';
import {newDeploymentId, toInfo, type StopResult} from './deployments.js';
import {resolveModel} from './model-dir.js';
import {checkBind} from './server.js';

export interface DockerDeployParams {
  name: string;
  model?: string;
  image?: string;
  host?: string;
  port?: number;
  apiKeyEnv?: string;
  version: string;
  /** How long to wait for /health (default 120 s). */
  timeoutMs?: number;
  progress: (msg: string) => void;
}

/** What config_json holds for a docker deployment, besides the deploy settings. */
interface DockerState {
  container: string;
  image: string;
  engine: string;
}

const CONTAINER_PORT = 8000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function deployDocker(p: DockerDeployParams, loaded: LoadedConfig, ledger: Ledger): Promise<DeployResult> {
  const cfg = loaded.config.deploy;
  const host = p.host ?? cfg.host;
  const apiKeyEnv = p.apiKeyEnv ?? cfg.api_key_env;
  const apiKey = readApiKey(apiKeyEnv);
  checkBind(host, apiKey, apiKeyEnv);
  const engine = await findEngine();
  await refuseDuplicate(engine, ledger, p.name);
  const image = p.image ?? ledger.images.latest('server')?.tag ?? `llmops-server:${p.version}`;
  if (!(await imageExists(engine, image))) {
    throw notFoundError(`The server image ${image} is not on this machine.`, {
      fix: `Try this: llmops image build --target server${p.image ? ` --tag ${p.image}` : ''}, or --image TAG of an image you have (${engine.bin} images).`,
    });
  }
  const labels = (await inspectImage(engine, image)).labels;
  const baked = !p.model && labels['dev.llmops.model.sha256'] ? {dir: `${image}:/models`, runId: labels['dev.llmops.model.run-id'] ?? null} : undefined;
  const model = baked ?? (p.model ? resolveModel(p.model, ledger, process.cwd()) : latestModel(ledger));
  if (!baked) {
    const {loadServableModel} = await import('./model-dir.js');
    loadServableModel(model.dir, {runId: model.runId});
  }
  const id = newDeploymentId();
  const container = `llmops-${id}`;
  const port = p.port ?? cfg.port;
  const ledgerDir = path.dirname(ledger.file);
  const logPath = path.join(ledgerDir, 'deployments', `${id}.log`);
  const state: DockerState = {container, image, engine: engine.bin};
  ledger.insertDeployment({
    id,
    name: p.name,
    status: 'starting',
    model_run_id: model.runId,
    model_dir: model.dir,
    target: 'docker',
    host,
    port,
    url: `http://${hostForUrl(host)}:${port}`,
    pid: null,
    log_path: logPath,
    price_per_hour: cfg.price_per_hour,
    config_json: JSON.stringify({...cfg, api_key_env: apiKeyEnv ?? null, host, port, ...state}),
  });
  if (p.model) {
    const {recordServedVersion} = await import('../registry/resolve.js');
    recordServedVersion(ledger, id, p.model, process.cwd());
  }
  const args = runArgs({container, id, host, port, image, name: p.name, ledger, modelDir: baked ? null : model.dir, configFile: loaded.file ?? null, apiKey: Boolean(apiKey)});
  p.progress(`Starting ${p.name} (${id}) from ${image} as container ${container}...`);
  const started = await engineCapture(engine, args, 120_000);
  if (!started.ok) {
    ledger.updateDeployment(id, {status: 'failed', stopped_at: nowIso()});
    await engineCapture(engine, ['rm', '-f', container], 30_000);
    throw new LlmopsError('BACKEND', `${engine.bin} could not start the server container:\n${lastLines(started.stderr || started.stdout, 5)}`, {
      fix: /address already in use|port is already allocated/i.test(started.stderr) ? 'Try this: --port with another number, or --port 0 for any free port.' : `Try this: ${engine.bin} run the image yourself to see the whole error.`,
    });
  }
  const published = await publishedPort(engine, container, host);
  ledger.updateDeployment(id, {port: published, url: `http://${hostForUrl(host)}:${published}`});
  await waitHealthy(engine, ledger, id, container, p.timeoutMs ?? 120_000);
  const row = ledger.findDeployment(id)!;
  p.progress(`Serving ${p.name} at ${row.url} (container ${container}). Stop it with: llmops deploy stop ${p.name}`);
  return {...toInfo(row), uptimeS: null};
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

interface RunArgs {
  container: string;
  id: string;
  host: string;
  port: number;
  image: string;
  name: string;
  ledger: Ledger;
  /** null: the image's own /models. */
  modelDir: string | null;
  configFile: string | null;
  apiKey: boolean;
}

function runArgs(a: RunArgs): string[] {
  const ledgerDir = path.dirname(a.ledger.file);
  // The files the server writes in the ledger's folder must stay its owner's.
  const owner = statSync(ledgerDir);
  const args = [
    'run', '--detach', '--name', a.container,
    '--label', 'dev.llmops.kind=deployment', '--label', `dev.llmops.deployment=${a.id}`,
    '--user', `${owner.uid}:${owner.gid}`,
    '--env', 'HOME=/tmp',
    '--publish', `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port === 0 ? '' : a.port}:${CONTAINER_PORT}`,
    '--volume', `${ledgerDir}:/ledger`,
    '--env', `LLMOPS_DB=/ledger/${path.basename(a.ledger.file)}`,
  ];
  if (a.modelDir) args.push('--volume', `${a.modelDir}:/models:ro`);
  if (a.configFile) args.push('--volume', `${a.configFile}:/project/llmops.yaml:ro`);
  // By name only: docker copies the value from its own environment, so the key is on no command line.
  if (a.apiKey) args.push('--env', 'LLMOPS_API_KEY');
  args.push(a.image, 'deploy', '--model', '/models', '--name', a.name, '--host', '0.0.0.0', '--port', String(CONTAINER_PORT), '--deployment-id', a.id, '--published-on', a.host);
  if (a.apiKey) args.push('--api-key-env', 'LLMOPS_API_KEY');
  return args;
}

async function publishedPort(engine: ContainerEngine, container: string, host: string): Promise<number> {
  const out = await engineRun(engine, ['port', container, `${CONTAINER_PORT}/tcp`], 'read the published port', 30_000);
  for (const line of out.split('\n')) {
    const m = /:(\d+)\s*$/.exec(line.trim());
    if (m && (line.startsWith(host) || line.startsWith(`[${host}]`) || out.split('\n').length === 1)) return Number(m[1]);
  }
  const m = /:(\d+)\s*$/m.exec(out);
  if (!m) throw new LlmopsError('BACKEND', `${engine.bin} port ${container} printed no port: ${out}`);
  return Number(m[1]);
}

/** Until the server in the container marked the deployment running and /health answers 200. */
async function waitHealthy(engine: ContainerEngine, ledger: Ledger, id: string, container: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let checks = 0;
  for (;;) {
    const row = ledger.findDeployment(id)!;
    if (row.status === 'running' && (await fetch(row.url + '/health').then((r) => r.status === 200, () => false))) return;
    // Every second: is the container still there?
    if (++checks % 10 === 0 || row.status === 'failed') {
      const s = await containerState(engine, container);
      if (!s?.running || row.status === 'failed') {
        const logs = await containerLogs(engine, container, 15);
        ledger.updateDeployment(id, {status: 'failed', stopped_at: nowIso()});
        await saveLogsAndRemove(engine, row, container);
        throw new LlmopsError('RUN_FAILED', `The server container exited (code ${s?.exitCode ?? '?'}) before it was ready.\n${logs}`, {
          fix: `Try this: llmops deploy logs ${row.name}`,
        });
      }
    }
    if (Date.now() > deadline) {
      ledger.updateDeployment(id, {status: 'failed', stopped_at: nowIso()});
      await saveLogsAndRemove(engine, row, container);
      throw new LlmopsError('RUN_FAILED', `The server container did not become healthy within ${timeoutMs / 1000} s.`, {fix: `Try this: llmops deploy logs ${row.name}`});
    }
    await sleep(100);
  }
}

async function refuseDuplicate(engine: ContainerEngine, ledger: Ledger, name: string): Promise<void> {
  const same = ledger.findDeployment(name);
  if (!same || (same.status !== 'running' && same.status !== 'starting')) return;
  if (same.target === 'docker') {
    const s = await containerState(engine, stateOf(same).container);
    if (!s?.running) {
      ledger.updateDeployment(same.id, {status: 'failed', stopped_at: nowIso()});
      return;
    }
  } else if (same.target === 'local') {
    const {reconcile} = await import('./deployments.js');
    if (reconcile(ledger, same).status !== 'running') return;
  }
  throw usageError(`A deployment named "${name}" is already running (${same.url}, id ${same.id}).`, {fix: `Try this: llmops deploy stop ${name}, or another --name.`});
}

function stateOf(row: DeploymentRow): DockerState {
  const c = JSON.parse(row.config_json) as Partial<DockerState>;
  return {container: c.container ?? `llmops-${row.id}`, image: c.image ?? '', engine: c.engine ?? 'docker'};
}

async function containerLogs(engine: ContainerEngine, container: string, tail = 0): Promise<string> {
  const r = await engineCapture(engine, ['logs', ...(tail > 0 ? ['--tail', String(tail)] : []), container], 60_000);
  // The server logs to stderr; stdout holds --json results. Both, in that order.
  return [r.stdout, r.stderr].filter((t) => t.trim() !== '').join('\n').trimEnd();
}

async function saveLogsAndRemove(engine: ContainerEngine, row: DeploymentRow, container: string): Promise<void> {
  const logs = await containerLogs(engine, container);
  if (row.log_path && logs) {
    mkdirSync(path.dirname(row.log_path), {recursive: true});
    writeFileSync(row.log_path, logs + '\n');
  }
  await engineCapture(engine, ['rm', '-f', container], 60_000);
}

/** docker stop (SIGTERM, then SIGKILL after `graceS`), the log kept, the container removed. */
export async function stopDocker(ledger: Ledger, row: DeploymentRow, graceS = 15): Promise<StopResult> {
  const engine = await findEngine();
  const {container} = stateOf(row);
  const before = await containerState(engine, container);
  const running = Boolean(before?.running);
  let killed = false;
  if (before) {
    if (running) {
      await engineRun(engine, ['stop', '--time', String(graceS), container], `stop the container ${container}`, (graceS + 60) * 1000);
      const after = await containerState(engine, container);
      killed = after?.exitCode === 137;
    }
    await saveLogsAndRemove(engine, row, container);
  }
  const after = ledger.findDeployment(row.id)!;
  if (after.status !== 'stopped') ledger.updateDeployment(row.id, {status: 'stopped', stopped_at: after.stopped_at ?? nowIso()});
  const counts = ledger.requestCountsByDeployment();
  return {deployment: toInfo(ledger.findDeployment(row.id)!, counts[row.id] ?? 0), wasRunning: running, killed};
}

/** The container's log while it exists, else the one kept at stop. */
export async function dockerLogs(row: DeploymentRow, tailLines = 0): Promise<string> {
  const engine = await findEngine();
  const {container} = stateOf(row);
  if (await containerState(engine, container)) return containerLogs(engine, container, tailLines);
  if (row.log_path && existsSync(row.log_path)) {
    const {lastLines: fileLastLines} = await import('../system/tail.js');
    const {readFileSync} = await import('node:fs');
    return tailLines > 0 ? fileLastLines(row.log_path, tailLines).join('\n') : readFileSync(row.log_path, 'utf8');
  }
  throw notFoundError(`Deployment ${row.name} (${row.id}): its container is gone and no log was kept.`);
}
