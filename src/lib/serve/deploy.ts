/**
 * `llmops deploy` for the local target: resolve the model, guard the bind address, then serve
 * attached (until SIGINT/SIGTERM) or spawn a detached server and return once it is healthy.
 */
import {existsSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {notFoundError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {nowIso} from '../util/time.js';
import {newDeploymentId, reconcile, spawnDetached, toInfo, type DeploymentInfo} from './deployments.js';
import {resolveModel} from './model-dir.js';
import {isRegistryRef, recordServedVersion} from '../registry/resolve.js';
import {parseModelRef} from '../registry/refs.js';
import {checkBind, startServer} from './server.js';
import type {ScheduleMode} from './scheduler.js';

export interface LocalDeployParams {
  model?: string;
  name: string;
  host?: string;
  port?: number;
  apiKeyEnv?: string;
  detach: boolean;
  /** Set in the detached child: the ledger row its parent created. */
  deploymentId?: string;
  mode?: ScheduleMode;
  /** ONNX graph variant: fp32, fp16, q4... (default: the best the folder has for a CPU). */
  dtype?: string;
  /** Reload when the alias the model was given as (NAME@ALIAS) moves. */
  followAlias?: boolean;
  /** The CLI entry (bin/run.js) and the --config it was given, for the detached child. */
  bin: string;
  configFlag?: string;
  /**
   * Set when this server runs in a container (`deploy --target docker`): the host address its
   * port is published on. The bind check applies to it (the container itself listens on
   * 0.0.0.0), and the deployment's URL and port stay those the host recorded.
   */
  publishedOn?: string;
  progress: (msg: string) => void;
}

export interface DeployResult extends DeploymentInfo {
  /** Seconds the server ran (attached only; null for a detached server still running). */
  uptimeS: number | null;
}

export interface SshFlags {
  target: string;
  name: string;
  model?: string;
  port?: number;
  apiKeyEnv?: string;
  progress: (m: string) => void;
}

export async function deploySshFromFlags(f: SshFlags, loaded: LoadedConfig, ledger: Ledger): Promise<DeployResult> {
  const backend = loaded.config.backends[f.target];
  if (!backend || backend.type !== 'ssh') throw usageError(`--target ${f.target} is not an ssh backend.`);
  const model = f.model ? resolveModel(f.model, ledger, process.cwd()) : latestModel(ledger);
  const {loadServableModel} = await import('./model-dir.js');
  loadServableModel(model.dir, {runId: model.runId});
  const apiKeyEnv = f.apiKeyEnv ?? loaded.config.deploy.api_key_env;
  const apiKey = readApiKey(apiKeyEnv);
  const {deploySsh} = await import('./ssh-target.js');
  const info = await deploySsh(
    {backendName: f.target, backend, name: f.name, modelDir: model.dir, modelRunId: model.runId, ...(f.port === undefined ? {} : {port: f.port}), ...(apiKey ? {apiKey} : {}), ...(apiKeyEnv ? {apiKeyEnv} : {}), progress: f.progress},
    loaded,
    ledger,
  );
  return {...info, uptimeS: null};
}

/** The newest successful run that has an exported model. */
export function latestModel(ledger: Ledger): {dir: string; runId: string} {
  for (const r of ledger.listRuns({status: 'succeeded', limit: 200})) {
    const dir = path.join(r.run_dir, 'model');
    if (existsSync(path.join(dir, 'onnx', 'model.onnx'))) return {dir, runId: r.id};
  }
  throw notFoundError('No --model given and no finished run with an exported model in the ledger.', {
    fix: 'Try this: llmops train (the tiny preset takes about a minute), or --model PATH/TO/model.',
  });
}

export function readApiKey(envName: string | undefined): string | undefined {
  if (!envName) return undefined;
  const v = process.env[envName];
  if (!v) {
    throw usageError(`--api-key-env ${envName}: the environment variable ${envName} is empty or unset.`, {
      fix: `Try this: export ${envName}=<a long random key> before running llmops deploy.`,
    });
  }
  if (v.length < 8) throw usageError(`The API key in ${envName} is shorter than 8 characters.`, {fix: 'Try this: use a long random key (openssl rand -hex 24).'});
  return v;
}

export async function deployLocal(p: LocalDeployParams, loaded: LoadedConfig, ledger: Ledger): Promise<DeployResult> {
  const cfg = loaded.config.deploy;
  const host = p.host ?? cfg.host;
  const port = p.port ?? cfg.port;
  const apiKeyEnv = p.apiKeyEnv ?? cfg.api_key_env;
  const apiKey = readApiKey(apiKeyEnv);
  checkBind(p.publishedOn ?? host, apiKey, apiKeyEnv);
  let id = p.deploymentId;
  let model: {dir: string; runId: string | null};
  if (id) {
    const row = ledger.findDeployment(id);
    if (!row) throw notFoundError(`No deployment ${id} in the ledger.`);
    // In a container the model is where it is mounted, not at the host path recorded.
    model = {dir: p.publishedOn && p.model ? path.resolve(p.model) : row.model_dir, runId: row.model_run_id};
  } else {
    const same = ledger.findDeployment(p.name);
    if (same && same.status === 'running' && reconcile(ledger, same).status === 'running') {
      throw usageError(`A deployment named "${p.name}" is already running (${same.url}, id ${same.id}).`, {
        fix: `Try this: llmops deploy stop ${p.name}, or another --name.`,
      });
    }
    if (p.followAlias && !(p.model && isRegistryRef(process.cwd(), p.model) && parseModelRef(p.model)?.alias)) {
      throw usageError('--follow-alias needs --model NAME@ALIAS (a registry alias such as chat@prod).', {fix: 'Try this: llmops deploy --model chat@prod --follow-alias'});
    }
    let hfSource: string | null = null;
    if (p.model?.startsWith('hf:')) {
      // Only the files serving needs, at the exact commit; the commit is recorded with the deployment.
      const {fetchHfModel} = await import('./hf-model.js');
      const hf = await fetchHfModel(p.model, {projectCache: path.resolve(loaded.root, loaded.config.cache_dir), ...(p.dtype ? {dtype: p.dtype} : {}), progress: p.progress});
      model = {dir: hf.dir, runId: null};
      hfSource = hf.source;
    } else {
      model = p.model ? resolveModel(p.model, ledger, process.cwd()) : latestModel(ledger);
    }
    // Fail before recording anything when the folder is not a servable model.
    const {loadServableModel} = await import('./model-dir.js');
    loadServableModel(model.dir, {runId: model.runId, ...(p.dtype ? {dtype: p.dtype} : {})});
    id = newDeploymentId();
    ledger.insertDeployment({
      id,
      name: p.name,
      status: 'starting',
      model_run_id: model.runId,
      model_dir: model.dir,
      target: 'local',
      host,
      port,
      url: `http://${host}:${port}`,
      pid: p.detach ? null : process.pid,
      log_path: p.detach ? path.join(path.dirname(ledger.file), 'deployments', `${id}.log`) : null,
      price_per_hour: cfg.price_per_hour,
      config_json: JSON.stringify({...cfg, api_key_env: apiKeyEnv ?? null, host, port, mode: p.mode ?? 'batch', dtype: p.dtype ?? null, source: hfSource}),
    });
    if (p.model) recordServedVersion(ledger, id, p.model, process.cwd());
  }
  if (p.detach) {
    const row = ledger.findDeployment(id)!;
    const args = ['deploy', '--deployment-id', id, '--name', p.name, '--host', host, '--port', String(port)];
    if (apiKeyEnv) args.push('--api-key-env', apiKeyEnv);
    if (p.mode) args.push('--mode', p.mode);
    if (p.dtype) args.push('--dtype', p.dtype);
    if (p.followAlias) args.push('--follow-alias');
    if (p.configFlag) args.push('--config', path.resolve(p.configFlag));
    p.progress(`Starting ${p.name} (${id}) in the background; log: ${row.log_path}`);
    const up = await spawnDetached({ledger, deploymentId: id, args, bin: p.bin, logPath: row.log_path!, cwd: process.cwd()});
    p.progress(`Serving ${p.name} at ${up.url} (pid ${up.pid}). Stop it with: llmops deploy stop ${p.name}`);
    return {...toInfo(up), uptimeS: null};
  }
  return serveAttached(p, id, model, host, port, apiKey, loaded, ledger);
}

async function serveAttached(
  p: LocalDeployParams,
  id: string,
  model: {dir: string; runId: string | null},
  host: string,
  port: number,
  apiKey: string | undefined,
  loaded: LoadedConfig,
  ledger: Ledger,
): Promise<DeployResult> {
  let stopSignal: (sig: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stopSignal = resolve));
  const onSig = (sig: NodeJS.Signals) => stopSignal(sig);
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const started = Date.now();
  let server;
  try {
    server = await startServer({
      modelDir: model.dir,
      modelRunId: model.runId,
      name: p.name,
      host,
      port,
      deploy: loaded.config.deploy,
      ...(apiKey ? {apiKey} : {}),
      ledger,
      deploymentId: id,
      backend: p.publishedOn ? 'docker' : 'local',
      ...(p.mode ? {mode: p.mode} : {}),
      ...(p.dtype ? {dtype: p.dtype} : {}),
    });
    if (!p.publishedOn) ledger.updateDeployment(id, {port: server.port, url: server.url, pid: process.pid});
    p.progress(`Loading the model from ${model.dir}...`);
    await Promise.race([server.ready, stopped]);
    ledger.updateDeployment(id, {status: 'running', started_at: nowIso()});
    p.progress(
      p.publishedOn
        ? `llmops: serving ${p.name} on port ${server.port} of this container (published on ${p.publishedOn} by the host; OpenAI API under /v1).`
        : `llmops: serving ${p.name} at ${server.url} (OpenAI API under ${server.url}/v1). Ctrl-C stops it.`,
    );
  } catch (error) {
    await server?.close();
    ledger.updateDeployment(id, {status: 'failed', stopped_at: nowIso()});
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    throw error;
  }
  const {followAlias} = await import('./follow.js');
  const unfollow = p.followAlias ? followAlias(ledger, id, server, loaded.root, p.progress) : () => {};
  const sig = await stopped;
  unfollow();
  p.progress(`Received ${sig}: stopping ${p.name}...`);
  await server.close();
  process.off('SIGINT', onSig);
  process.off('SIGTERM', onSig);
  ledger.updateDeployment(id, {status: 'stopped', stopped_at: nowIso()});
  const counts = ledger.requestCountsByDeployment();
  p.progress(`Stopped ${p.name}.`);
  return {...toInfo(ledger.findDeployment(id)!, counts[id] ?? 0), uptimeS: (Date.now() - started) / 1000};
}
