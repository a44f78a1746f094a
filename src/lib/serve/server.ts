/**
 * A running server: the HTTP listener (up first, so /health says 503 while the model loads), the
 * engine, metrics, and the ledger recording of requests and cost. Used in-process by
 * `llmops deploy` and by the detached child of `llmops deploy --detach`.
 */
import type {AddressInfo} from 'node:net';
import type {DeployConfig} from '../config/schema.js';
import {LlmopsError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {OnnxModel} from './engine.js';
import {createHttpServer, type HttpContext} from './http.js';
import {ServerMetrics} from './metrics.js';
import {loadServableModel} from './model-dir.js';
import {CostMeter, RequestRecorder} from './recorder.js';
import {Scheduler, type ScheduleMode} from './scheduler.js';
import {ModelTokenizer} from './tokenizer.js';

export interface ServeOptions {
  modelDir: string;
  modelRunId: string | null;
  /** ONNX graph variant (fp32, fp16, q4...); default: the best the folder has for a CPU. */
  dtype?: string;
  /** The name clients put in `model` (the deployment name). */
  name: string;
  host: string;
  port: number;
  deploy: DeployConfig;
  apiKey?: string;
  /** Record requests and cost for this deployment (no ledger: nothing is recorded). */
  ledger?: Ledger;
  deploymentId?: string;
  backend?: string;
  mode?: ScheduleMode;
  /** The model starts loading once this settles (lets a caller observe the loading state). */
  loadAfter?: Promise<unknown>;
  /** Cost entries are appended this often (default 60 s). */
  costIntervalMs?: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  /** Resolves once the model is loaded and /health answers 200. */
  ready: Promise<void>;
  scheduler(): Scheduler | undefined;
  /**
   * Serves another model folder without dropping a request: the new model is loaded first, new
   * requests go to it, and requests in flight finish on the old one, which is then released.
   */
  reload(modelDir: string, runId: string | null): Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Binding beyond loopback exposes the model to the network: only with an API key. */
export function checkBind(host: string, apiKey: string | undefined, apiKeyEnv: string | undefined): void {
  if (!isLoopback(host) && !apiKey) {
    throw usageError(`Refusing to listen on ${host} without an API key: anyone who can reach it could use the model.`, {
      fix: `Try this: export LLMOPS_API_KEY=<a long random key> and pass --api-key-env LLMOPS_API_KEY${apiKeyEnv ? ` (${apiKeyEnv} is empty or unset)` : ''}, or keep --host 127.0.0.1.`,
    });
  }
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  let spec = loadServableModel(o.modelDir, {runId: o.modelRunId, ...(o.dtype ? {dtype: o.dtype} : {})});
  let model: OnnxModel | undefined;
  const names = [o.name, ...(spec.runId && spec.runId !== o.name ? [spec.runId] : [])];
  let scheduler: Scheduler | undefined;
  const metrics = new ServerMetrics(o.name, () => ({running: scheduler?.numRunning ?? 0, waiting: scheduler?.numWaiting ?? 0}));
  const recorder = o.ledger && o.deploymentId ? new RequestRecorder(o.ledger) : undefined;
  const ctx: HttpContext = {
    opts: {
      names,
      ...(o.apiKey ? {apiKey: o.apiKey} : {}),
      maxBodyBytes: o.deploy.max_body_bytes,
      bodyTimeoutMs: Math.min(30_000, o.deploy.request_timeout_s * 1000),
      requestTimeoutMs: o.deploy.request_timeout_s * 1000,
      maxTokensDefault: o.deploy.max_tokens_default,
      logText: o.deploy.log_text,
      streamFlushMs: o.deploy.stream_flush_ms,
    },
    metrics,
    // The model a request is recorded against is the one serving now (it changes on reload).
    ...(recorder ? {record: (row) => recorder.push({...row, deployment_id: o.deploymentId!, model_run_id: spec.runId})} : {}),
  };
  const server = createHttpServer(ctx);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? usageError(`Port ${o.port} on ${o.host} is already in use.`, {fix: 'Try this: --port with another number, or --port 0 for any free port.'})
          : new LlmopsError('ENVIRONMENT', `Cannot listen on ${o.host}:${o.port}: ${err.message}`, {fix: 'Try this: another --host or --port.'}),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host;
  const url = `http://${hostForUrl === '0.0.0.0' ? '127.0.0.1' : hostForUrl}:${port}`;
  const cost =
    o.ledger && o.deploymentId
      ? new CostMeter({
          ledger: o.ledger,
          deploymentId: o.deploymentId,
          runId: spec.runId,
          pricePerHour: o.deploy.price_per_hour,
          backend: o.backend ?? 'local',
          ...(o.costIntervalMs ? {intervalMs: o.costIntervalMs} : {}),
        })
      : undefined;
  const ready = (async () => {
    await o.loadAfter;
    model = await OnnxModel.load(spec, o.deploy.threads);
    const tokenizer = ModelTokenizer.fromFolder(spec.dir);
    scheduler = new Scheduler(model, tokenizer, {maxConcurrent: o.deploy.max_concurrent, maxQueue: o.deploy.max_queue, mode: o.mode ?? 'batch'});
    ctx.engine = {spec, tokenizer, scheduler};
  })();
  ready.catch(() => {});
  let closing: Promise<void> | undefined;
  return {
    url,
    host: o.host,
    port,
    ready,
    scheduler: () => scheduler,
    async reload(modelDir, runId) {
      await ready;
      const nextSpec = loadServableModel(modelDir, {runId, ...(o.dtype ? {dtype: o.dtype} : {})});
      const nextModel = await OnnxModel.load(nextSpec, o.deploy.threads);
      const tokenizer = ModelTokenizer.fromFolder(nextSpec.dir);
      const next = new Scheduler(nextModel, tokenizer, {maxConcurrent: o.deploy.max_concurrent, maxQueue: o.deploy.max_queue, mode: o.mode ?? 'batch'});
      const [oldScheduler, oldModel] = [scheduler, model];
      // Handlers take ctx.engine once per request: from here on, new requests use the new model.
      spec = nextSpec;
      model = nextModel;
      scheduler = next;
      ctx.engine = {spec: nextSpec, tokenizer, scheduler: next};
      ctx.opts.names.splice(0, ctx.opts.names.length, o.name, ...(nextSpec.runId && nextSpec.runId !== o.name ? [nextSpec.runId] : []));
      while (oldScheduler && (oldScheduler.numRunning > 0 || oldScheduler.numWaiting > 0)) await new Promise((r) => setTimeout(r, 20));
      await oldScheduler?.close();
      await oldModel?.close();
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Cancelling what runs answers the requests in flight (503 or an error event), which lets
        // their connections end; a client that never reads is cut after a grace period.
        await scheduler?.close();
        const grace = setTimeout(() => server.closeAllConnections(), 2_000);
        await closed;
        clearTimeout(grace);
        recorder?.close();
        cost?.close();
      })();
      return closing;
    },
  };
}
