/**
 * The OpenAI-compatible HTTP API on Node's own http module (measured against fastify: see
 * docs/benchmarks.md "## Serve"). Endpoints: POST /v1/chat/completions, POST /v1/completions,
 * GET /v1/models, GET /health, GET /metrics.
 */
import {createHash, randomUUID, timingSafeEqual} from 'node:crypto';
import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import {requestProfile} from '../profile/profile.js';
import type {RequestRow} from '../ledger/ledger.js';
import {ApiError, badRequest} from './api-error.js';
import {parseJsonBody, readBody} from './body.js';
import {ChatTemplateError} from '../model/chat-template.js';
import type {ModelFolder} from '../model/folder.js';
import {chatPrompt, promptTextOf} from './chat-format.js';
import type {ServerMetrics} from './metrics.js';
import {QueueFullError, type Scheduler} from './scheduler.js';
import {chatLogprobs, legacyLogprobs, type TokenLogprob} from './logprobs.js';
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
}

export interface HttpContext {
  opts: HttpOptions;
  /** Undefined while the model loads (/health and the API answer 503). */
  engine?: Engine;
  metrics: ServerMetrics;
  record?: (row: Omit<RequestRow, 'deployment_id' | 'model_run_id'>) => void;
}

// No tokenizer turns fewer than this many characters into one token: longer prompts cannot fit the
// context and are refused before the tokenizer spends time on them.
const MAX_CHARS_PER_TOKEN = 64;

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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers});
  res.end(text);
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
  const chat = p.endpoint === 'chat';
  if (p.promptIds?.some((id) => id >= spec.vocabSize)) {
    return fail(badRequest(`Invalid value for 'prompt': token ids must be below the vocabulary size ${spec.vocabSize}.`, 'prompt'), p.stream);
  }
  let promptText: string;
  try {
    promptText = chat ? chatPrompt(spec, p.messages!) : (p.prompt ?? tokenizer.decode(p.promptIds!, {skipSpecialTokens: true}));
  } catch (error) {
    // The model's own template refused the conversation: the client's fault, with its message.
    if (error instanceof ChatTemplateError) return fail(badRequest(error.templateMessage, 'messages'), p.stream);
    if (error instanceof Error && 'exitCode' in error) return fail(badRequest(error.message, 'messages'), p.stream);
    throw error;
  }
  const ctxLen = spec.contextLength;
  if (promptText.length > ctxLen * MAX_CHARS_PER_TOKEN) {
    return fail(badRequest(`This model's maximum context length is ${ctxLen} tokens; the prompt is far longer (${promptText.length} characters).`, chat ? 'messages' : 'prompt', 'context_length_exceeded'), p.stream);
  }
  // A chat is tokenized as rendered (the template writes its own BOS); plain text gets the
  // tokenizer's special tokens as the model's config says (BOS for Llama, none for GPT-2). A prompt
  // of token ids is used as it is.
  const promptIds = p.promptIds ?? tokenizer.encode(promptText, {addSpecialTokens: !chat});
  if (promptIds.length === 0) return fail(badRequest('The prompt is empty.', 'prompt'), p.stream);
  const maxParam = chat ? 'max_completion_tokens' : 'max_tokens';
  if (promptIds.length >= ctxLen) {
    return fail(badRequest(`This model's maximum context length is ${ctxLen} tokens; the prompt alone has ${promptIds.length} tokens.`, chat ? 'messages' : 'prompt', 'context_length_exceeded'), p.stream);
  }
  if (p.maxTokens !== null && promptIds.length + p.maxTokens > ctxLen) {
    return fail(
      badRequest(
        `This model's maximum context length is ${ctxLen} tokens. However, you requested ${promptIds.length + p.maxTokens} tokens (${promptIds.length} in the prompt, ${p.maxTokens} in the completion). Lower ${maxParam} or the prompt.`,
        maxParam,
        'context_length_exceeded',
      ),
      p.stream,
    );
  }
  const maxTokens = p.maxTokens ?? Math.min(ctx.opts.maxTokensDefault, ctxLen - promptIds.length);
  const profileText = chat ? promptTextOf(p.messages!) : promptText;

  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort('timeout'), ctx.opts.requestTimeoutMs);
  res.on('close', () => {
    if (!res.writableFinished) abort.abort('client');
  });

  const id = (chat ? 'chatcmpl-' : 'cmpl-') + randomUUID().replaceAll('-', '');
  const createdS = Math.floor(arrival / 1000);
  const model = ctx.opts.names[0]!;
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const sse = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  // A streamed chunk carries the log-probabilities of the tokens whose text starts in its delta.
  const chunkLogprobs = (tokens: TokenLogprob[] | null) =>
    p.logprobs === null || tokens === null ? null : chat ? chatLogprobs(tokenizer, tokens) : legacyLogprobs(tokenizer, [], tokens);
  const chunk = (delta: string | null, finish: string | null, tokens: TokenLogprob[] | null = null) =>
    chat
      ? {id, object, created: createdS, model, choices: [{index: 0, delta: delta === null ? {} : {content: delta}, logprobs: chunkLogprobs(tokens), finish_reason: finish}], ...(p.includeUsage ? {usage: null} : {})}
      : {id, object, created: createdS, model, choices: [{index: 0, text: delta ?? '', logprobs: chunkLogprobs(tokens), finish_reason: finish}], ...(p.includeUsage ? {usage: null} : {})};

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
      ...(p.stream ? {onDelta: (text: string, tokens: TokenLogprob[]) => sse(chunk(text, null, tokens))} : {}),
      ...(p.logprobs === null ? {} : {logprobs: p.logprobs}),
    });
  } catch (error) {
    clearTimeout(deadline);
    if (error instanceof QueueFullError) {
      return fail(new ApiError(429, `The server is busy: ${error.maxQueue} requests are already waiting. Retry later.`, 'rate_limit_exceeded', null, 'queue_full'), p.stream);
    }
    return fail(new ApiError(503, 'The server is shutting down.', 'service_unavailable'), p.stream);
  }
  if (p.stream) {
    res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive'});
    if (chat) sse({id, object, created: createdS, model, choices: [{index: 0, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}], ...(p.includeUsage ? {usage: null} : {})});
  }
  const r = await resultPromise;
  const prompted = await promptLogprobs;
  clearTimeout(deadline);
  if (prompted instanceof Error) {
    r.finishReason = 'error';
    r.error = promptError(prompted);
  }
  const usage = {prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens};
  const timedOut = abort.signal.aborted && abort.signal.reason === 'timeout';
  let httpStatus = 200;
  let errorText: string | null = r.error ?? null;
  if (r.finishReason === 'stop' || r.finishReason === 'length') {
    if (p.stream) {
      sse(chunk(null, r.finishReason));
      if (p.includeUsage) sse(chat ? {id, object, created: createdS, model, choices: [], usage} : {id, object, created: createdS, model, choices: [], usage});
      res.end('data: [DONE]\n\n');
    } else {
      const generated = r.logprobs ?? [];
      const logprobs =
        p.logprobs === null
          ? null
          : chat
            ? chatLogprobs(tokenizer, generated)
            : legacyLogprobs(tokenizer, Array.isArray(prompted) ? prompted : [], generated, p.echo ? promptText.length : 0);
      sendJson(res, 200, {
        id,
        object: chat ? 'chat.completion' : 'text_completion',
        created: createdS,
        model,
        choices: [
          chat
            ? {index: 0, message: {role: 'assistant', content: r.text}, logprobs, finish_reason: r.finishReason}
            : {index: 0, text: p.echo ? promptText + r.text : r.text, logprobs, finish_reason: r.finishReason},
        ],
        usage,
      });
    }
    ctx.metrics.observe(r);
  } else {
    const err =
      r.finishReason === 'error'
        ? new ApiError(500, `Generation failed: ${r.error ?? 'unknown error'}.`, 'internal_error')
        : timedOut
          ? new ApiError(504, `The request took longer than the limit of ${ctx.opts.requestTimeoutMs / 1000} s (deploy.request_timeout_s).`, 'timeout', null, 'request_timeout')
          : abort.signal.aborted
            ? null // the client went away: nobody to answer
            : new ApiError(503, 'The server is shutting down.', 'service_unavailable');
    httpStatus = err ? err.status : 499;
    errorText = err ? err.message : 'client disconnected';
    if (err && !res.destroyed) {
      if (p.stream) {
        sse(err.toBody());
        res.end('data: [DONE]\n\n');
      } else sendJson(res, err.status, err.toBody());
    }
    ctx.metrics.failed(httpStatus);
  }
  req.resume();
  ctx.record?.({
    ts: arrival,
    endpoint: p.endpoint,
    stream: p.stream ? 1 : 0,
    status: r.finishReason === 'stop' || r.finishReason === 'length' ? 'ok' : r.finishReason === 'cancelled' && !timedOut ? 'cancelled' : 'error',
    http_status: httpStatus,
    finish_reason: r.finishReason,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    queue_ms: r.queueMs,
    ttft_ms: r.ttftMs,
    e2e_ms: r.e2eMs,
    itl_ms: r.itlMs,
    prompt_chars: profileText.length,
    error: errorText,
    profile_json: JSON.stringify(requestProfile(profileText)),
    prompt_text: ctx.opts.logText ? promptText : null,
    completion_text: ctx.opts.logText ? r.text : null,
  });
}

const promptError = (e: Error) => `scoring the prompt failed: ${e.message}`;

/** max_tokens 0: nothing to generate (the prompt alone is scored, for echo). */
function noGeneration(promptTokens: number): GenerationResult {
  return {text: '', finishReason: 'length', promptTokens, completionTokens: 0, queueMs: 0, ttftMs: null, e2eMs: 0, itlMs: null};
}
