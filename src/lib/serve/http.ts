/**
 * The OpenAI-compatible HTTP API on Node's own http module (measured against fastify: see
 * docs/benchmarks.md "## Serve"). Endpoints: POST /v1/chat/completions, POST /v1/completions,
 * GET /v1/models, GET /health, GET /metrics.
 */
import {createHash, randomUUID, timingSafeEqual} from 'node:crypto';
import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import {requestProfile} from '../profile/profile.js';
import type {RequestRow} from '../ledger/ledger.js';
import {ApiError} from './api-error.js';
import {parseJsonBody, readBody} from './body.js';
import type {ModelFolder} from '../model/folder.js';
import {CompletionResponse, sendJson} from './completion-response.js';
import {preparePrompt, type PreparedPrompt} from './limits.js';
import type {ServerMetrics} from './metrics.js';
import {QueueFullError, type Scheduler} from './scheduler.js';
import {FLUSH_MS} from './sse.js';
import type {TokenLogprob} from './logprobs.js';
import type {GenerationResult} from './sequence.js';
import type {ModelTokenizer} from './tokenizer.js';
import {parseRequest, type Endpoint, type ParsedRequest} from './validate.js';

export interface Engine {
  spec: ModelFolder;
  tokenizer: ModelTokenizer;
  scheduler: Scheduler;
}

export interface HttpOptions {
  /** Model names a request may ask for; the first is the one listed and echoed. */
  names: string[];
  apiKey?: string;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  requestTimeoutMs: number;
  maxTokensDefault: number;
  logText: boolean;
  /** deploy.stream_flush_ms: how long a streamed event may wait to share a write (sse.ts), and how often a stream decodes. */
  streamFlushMs?: number;
}

export interface HttpContext {
  opts: HttpOptions;
  /** Undefined while the model loads (/health and the API answer 503). */
  engine?: Engine;
  metrics: ServerMetrics;
  record?: (row: Omit<RequestRow, 'deployment_id' | 'model_run_id'>) => void;
}

const sha = (s: string) => createHash('sha256').update(s).digest();

export function createHttpServer(ctx: HttpContext): http.Server {
  const keyDigest = ctx.opts.apiKey ? sha(ctx.opts.apiKey) : undefined;
  const created = Math.floor(Date.now() / 1000);
  const server = http.createServer(
    {
      headersTimeout: Math.min(10_000, ctx.opts.bodyTimeoutMs + 5_000),
      requestTimeout: ctx.opts.bodyTimeoutMs + 5_000,
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      handle(ctx, keyDigest, created, req, res).catch((error: unknown) => {
        // Reaching this is a bug in llmops; the client still gets an answer in OpenAI's shape.
        process.stderr.write(`llmops serve: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
        if (!res.headersSent) sendError(res, new ApiError(500, 'Internal server error.', 'internal_error'));
        else res.end();
      });
    },
  );
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

function sendError(res: ServerResponse, err: ApiError): void {
  const closeAfter = err.status === 413 || err.status === 408;
  sendJson(res, err.status, err.toBody(), closeAfter ? {connection: 'close'} : {});
  // The rest of an oversized or stalled body is not worth reading.
  if (closeAfter) res.on('finish', () => res.socket?.destroy());
}

function authorised(req: IncomingMessage, keyDigest: Buffer | undefined): boolean {
  if (!keyDigest) return true;
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  // Digests have a fixed length, so the comparison takes the same time whatever the key tried.
  return timingSafeEqual(sha(m?.[1]?.trim() ?? ''), keyDigest) && Boolean(m);
}

async function handle(ctx: HttpContext, keyDigest: Buffer | undefined, created: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  const method = req.method ?? 'GET';
  req.on('error', () => {});
  if (path === '/health') {
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, new ApiError(405, 'Use GET /health.', 'invalid_request_error'));
    return ctx.engine ? sendJson(res, 200, {status: 'ok'}) : sendJson(res, 503, {status: 'loading'});
  }
  if (path === '/metrics') {
    if (method !== 'GET') return sendError(res, new ApiError(405, 'Use GET /metrics.', 'invalid_request_error'));
    const text = await ctx.metrics.text();
    res.writeHead(200, {'content-type': ctx.metrics.contentType});
    return void res.end(text);
  }
  const endpoint: Endpoint | 'models' | undefined =
    path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'completions' : path === '/v1/models' ? 'models' : undefined;
  if (!endpoint) {
    req.resume();
    return sendError(res, new ApiError(404, `No route ${method} ${path.slice(0, 100)}. Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics.`, 'invalid_request_error', null, 'not_found'));
  }
  const arrival = Date.now();
  const fail = (err: ApiError, stream = false) => {
    if (endpoint !== 'models') recordError(ctx, endpoint, arrival, stream, err);
    ctx.metrics.failed(err.status);
    sendError(res, err);
  };
  if (!authorised(req, keyDigest)) {
    req.resume();
    return fail(new ApiError(401, 'Missing or invalid API key. Send it as "Authorization: Bearer KEY".', 'invalid_request_error', null, 'invalid_api_key'));
  }
  if (endpoint === 'models') {
    if (method !== 'GET') return fail(new ApiError(405, 'Use GET /v1/models.', 'invalid_request_error'));
    return sendJson(res, 200, {
      object: 'list',
      data: [
        {
          id: ctx.opts.names[0],
          object: 'model',
          created,
          owned_by: 'llmops',
          ...(ctx.engine ? {max_model_len: ctx.engine.spec.contextLength} : {}),
        },
      ],
    });
  }
  if (method !== 'POST') {
    req.resume();
    return fail(new ApiError(405, `Use POST ${path}.`, 'invalid_request_error'));
  }
  const engine = ctx.engine;
  if (!engine) {
    req.resume();
    return fail(new ApiError(503, 'The model is still loading; retry when GET /health answers 200.', 'service_unavailable', null, 'loading'));
  }
  let parsed: ParsedRequest;
  try {
    const body = await readBody(req, ctx.opts.maxBodyBytes, ctx.opts.bodyTimeoutMs);
    parsed = parseRequest(endpoint, parseJsonBody(body));
  } catch (error) {
    if (error instanceof ApiError) return fail(error);
    return; // the client went away while sending
  }
  if (parsed.model !== null && !ctx.opts.names.includes(parsed.model)) {
    return fail(new ApiError(404, `The model "${parsed.model.slice(0, 100)}" does not exist; this server serves "${ctx.opts.names[0]}".`, 'invalid_request_error', 'model', 'model_not_found'), parsed.stream);
  }
  await generate(ctx, engine, parsed, arrival, req, res, fail);
}

function recordError(ctx: HttpContext, endpoint: Endpoint, arrival: number, stream: boolean, err: ApiError): void {
  ctx.record?.({
    ts: arrival,
    endpoint,
    stream: stream ? 1 : 0,
    status: 'error',
    http_status: err.status,
    finish_reason: null,
    prompt_tokens: 0,
    completion_tokens: 0,
    queue_ms: null,
    ttft_ms: null,
    e2e_ms: Date.now() - arrival,
    itl_ms: null,
    prompt_chars: 0,
    error: err.message.slice(0, 500),
    profile_json: null,
    prompt_text: null,
    completion_text: null,
  });
}

async function generate(
  ctx: HttpContext,
  engine: Engine,
  p: ParsedRequest,
  arrival: number,
  req: IncomingMessage,
  res: ServerResponse,
  fail: (err: ApiError, stream?: boolean) => void,
): Promise<void> {
  const {spec, tokenizer, scheduler} = engine;
  const prepared = preparePrompt(spec, tokenizer, p, ctx.opts.maxTokensDefault);
  if (prepared instanceof ApiError) return fail(prepared, p.stream);
  const {promptIds, maxTokens} = prepared;

  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort('timeout'), ctx.opts.requestTimeoutMs);
  res.on('close', () => {
    if (!res.writableFinished) abort.abort('client');
  });
  const answer = new CompletionResponse(res, p, tokenizer, ctx.opts.names[0]!, Math.floor(arrival / 1000), randomUUID().replaceAll('-', ''), ctx.opts.streamFlushMs);

  let resultPromise: Promise<GenerationResult>;
  // Prompt log-probabilities for echo (lm-evaluation-harness's loglikelihood requests).
  const promptLogprobs = p.echo && p.logprobs !== null ? scheduler.scorePrompt(promptIds, p.logprobs).catch((error: Error) => error) : undefined;
  try {
    resultPromise = p.maxTokens === 0 ? Promise.resolve(noGeneration(promptIds.length)) : scheduler.submit({
      promptIds,
      maxTokens,
      sampling: {temperature: p.temperature, topP: p.topP, topK: p.topK},
      ...(p.seed === undefined ? {} : {seed: p.seed}),
      stop: p.stop,
      ignoreEos: p.ignoreEos,
      signal: abort.signal,
      ...(p.stream ? {onDelta: (text: string, tokens: TokenLogprob[]) => answer.delta(text, tokens), decodeIntervalMs: ctx.opts.streamFlushMs ?? FLUSH_MS} : {}),
      ...(p.logprobs === null ? {} : {logprobs: p.logprobs}),
    });
  } catch (error) {
    clearTimeout(deadline);
    if (error instanceof QueueFullError) {
      return fail(new ApiError(429, `The server is busy: ${error.maxQueue} requests are already waiting. Retry later.`, 'rate_limit_exceeded', null, 'queue_full'), p.stream);
    }
    return fail(new ApiError(503, 'The server is shutting down.', 'service_unavailable'), p.stream);
  }
  if (p.stream) answer.start();
  const r = await resultPromise;
  const prompted = await promptLogprobs;
  clearTimeout(deadline);
  if (prompted instanceof Error) {
    r.finishReason = 'error';
    r.error = promptError(prompted);
  }
  const timedOut = abort.signal.aborted && abort.signal.reason === 'timeout';
  let outcome: {httpStatus: number; errorText: string | null};
  if (r.finishReason === 'stop' || r.finishReason === 'length') {
    const usage = {prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens};
    answer.ok(r, usage, Array.isArray(prompted) ? prompted : undefined, prepared.promptText);
    ctx.metrics.observe(r);
    outcome = {httpStatus: 200, errorText: r.error ?? null};
  } else {
    const err = failure(ctx, r, abort.signal, timedOut);
    if (err) answer.error(err);
    outcome = {httpStatus: err ? err.status : 499, errorText: err ? err.message : 'client disconnected'};
    ctx.metrics.failed(outcome.httpStatus);
  }
  req.resume();
  recordResult(ctx, p, arrival, r, prepared, {...outcome, timedOut});
}

/** Why a generation did not finish, as the client is told it; null when the client went away. */
function failure(ctx: HttpContext, r: GenerationResult, signal: AbortSignal, timedOut: boolean): ApiError | null {
  if (r.finishReason === 'error') return new ApiError(500, `Generation failed: ${r.error ?? 'unknown error'}.`, 'internal_error');
  if (timedOut) {
    return new ApiError(504, `The request took longer than the limit of ${ctx.opts.requestTimeoutMs / 1000} s (deploy.request_timeout_s).`, 'timeout', null, 'request_timeout');
  }
  if (signal.aborted) return null; // the client went away: nobody to answer
  return new ApiError(503, 'The server is shutting down.', 'service_unavailable');
}

/** The request's row in the ledger (text only with deploy.log_text). */
function recordResult(
  ctx: HttpContext,
  p: ParsedRequest,
  arrival: number,
  r: GenerationResult,
  prepared: PreparedPrompt,
  o: {httpStatus: number; errorText: string | null; timedOut: boolean},
): void {
  ctx.record?.({
    ts: arrival,
    endpoint: p.endpoint,
    stream: p.stream ? 1 : 0,
    status: r.finishReason === 'stop' || r.finishReason === 'length' ? 'ok' : r.finishReason === 'cancelled' && !o.timedOut ? 'cancelled' : 'error',
    http_status: o.httpStatus,
    finish_reason: r.finishReason,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    queue_ms: r.queueMs,
    ttft_ms: r.ttftMs,
    e2e_ms: r.e2eMs,
    itl_ms: r.itlMs,
    prompt_chars: prepared.profileText.length,
    error: o.errorText,
    profile_json: JSON.stringify(requestProfile(prepared.profileText)),
    prompt_text: ctx.opts.logText ? prepared.promptText : null,
    completion_text: ctx.opts.logText ? r.text : null,
  });
}

const promptError = (e: Error) => `scoring the prompt failed: ${e.message}`;

/** max_tokens 0: nothing to generate (the prompt alone is scored, for echo). */
function noGeneration(promptTokens: number): GenerationResult {
  return {text: '', finishReason: 'length', promptTokens, completionTokens: 0, queueMs: 0, ttftMs: null, e2eMs: 0, itlMs: null};
}
