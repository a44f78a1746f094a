/**
 * Validation of /v1/chat/completions and /v1/completions bodies (zod), into one normalised
 * generation request. Unknown fields are ignored, as vLLM does; every rejection names the field.
 */
import {z} from 'zod';
import {badRequest, ApiError} from './api-error.js';
import type {ChatMessage} from './chat-format.js';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const tokens = z.number().int('must be an integer').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000');

const textPart = z.object({type: z.literal('text'), text: z.string()});
const message = z.object({
  role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']),
  content: z.union([z.string(), z.array(textPart).max(1000), z.null()]),
});

const common = {
  model: z.string().max(512).nullish(),
  max_tokens: tokens.nullish(),
  temperature: finite.min(0, 'must be >= 0').max(2, 'must be <= 2').nullish(),
  top_p: finite.gt(0, 'must be > 0').max(1, 'must be <= 1').nullish(),
  top_k: z.number().int('must be an integer').min(-1, 'must be -1 (off) or more').max(1_000_000).nullish(),
  seed: z.number().int('must be an integer').min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  stop: z.union([z.string().max(256), z.array(z.string().min(1).max(256)).max(16)]).nullish(),
  n: z.literal(1, 'only n = 1 is supported').nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({include_usage: z.boolean().nullish()}).nullish(),
  ignore_eos: z.boolean().nullish(),
};

const topN = z.number().int('must be an integer').min(0, 'must be at least 0').max(20, 'must be at most 20');

const chatSchema = z.object({
  ...common,
  messages: z.array(message).min(1, 'must hold at least one message').max(10_000),
  max_completion_tokens: tokens.nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: topN.nullish(),
});

const tokenId = z.number().int().min(0);
const completionSchema = z.object({
  ...common,
  // max_tokens 0 with echo scores the prompt without generating (lm-evaluation-harness).
  max_tokens: z.number().int('must be an integer').min(0, 'must be at least 0').max(1_000_000, 'must be at most 1000000').nullish(),
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(1, 'must hold exactly one prompt (batched prompts are not supported)'),
    z.array(tokenId).min(1),
    z.array(z.array(tokenId).min(1)).length(1),
  ]),
  logprobs: topN.nullish(),
  echo: z.boolean().nullish(),
});

export type Endpoint = 'chat' | 'completions';

export interface ParsedRequest {
  endpoint: Endpoint;
  model: string | null;
  /** Chat messages, or the completion prompt. */
  messages?: ChatMessage[];
  prompt?: string;
  /** A prompt given as token ids (used as they are: no BOS added). */
  promptIds?: number[];
  maxTokens: number | null;
  /** Log-probabilities asked for, with this many alternatives per token; null: none. */
  logprobs: number | null;
  /** Completions: the prompt comes back in front of the completion (and its tokens in logprobs). */
  echo: boolean;
  temperature: number;
  topP: number;
  topK: number;
  seed?: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  ignoreEos: boolean;
}

const UNION_EXPECTED: Record<string, string> = {
  prompt: 'a string, an array holding one string, an array of token ids, or an array holding one array of token ids',
  stop: 'a string or an array of up to 16 non-empty strings',
  content: 'a string, null, or an array of {type: "text", text} parts',
};

/** What the request held at `p` (zod 4 leaves `issue.input` unset, so "missing" must come from the body). */
function valueAt(body: unknown, p: PropertyKey[]): unknown {
  let cur = body;
  for (const k of p) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

function firstIssue(error: z.ZodError, body: unknown): ApiError {
  const issue = error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  let msg = issue.message;
  const last = String(issue.path.at(-1) ?? '');
  if (issue.code === 'invalid_union') msg = `expected ${UNION_EXPECTED[last] ?? 'another type'}`;
  else if (issue.code === 'invalid_type') {
    const found = valueAt(body, issue.path);
    msg = `expected ${issue.expected}, ${found === undefined ? 'but the field is missing' : `found ${JSON.stringify(found)?.slice(0, 60) ?? typeof found}`}`;
  }
  return badRequest(param ? `Invalid value for '${param}': ${msg}.` : `Invalid request body: ${msg}.`, param);
}

export function parseRequest(endpoint: Endpoint, body: unknown): ParsedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  const schema = endpoint === 'chat' ? chatSchema : completionSchema;
  const r = schema.safeParse(body);
  if (!r.success) throw firstIssue(r.error, body);
  const d = r.data as z.output<typeof chatSchema> & z.output<typeof completionSchema>;
  const stop = d.stop == null ? [] : typeof d.stop === 'string' ? (d.stop ? [d.stop] : []) : d.stop;
  const out: ParsedRequest = {
    endpoint,
    model: d.model ?? null,
    maxTokens: d.max_completion_tokens ?? d.max_tokens ?? null,
    temperature: d.temperature ?? 1,
    topP: d.top_p ?? 1,
    topK: d.top_k ?? 0,
    ...(d.seed == null ? {} : {seed: d.seed}),
    stop,
    stream: d.stream ?? false,
    includeUsage: Boolean(d.stream_options?.include_usage),
    ignoreEos: Boolean(d.ignore_eos),
    logprobs: null,
    echo: false,
  };
  if (endpoint === 'chat') {
    const c = r.data as z.output<typeof chatSchema>;
    if (c.top_logprobs != null && !c.logprobs) throw badRequest("Invalid value for 'top_logprobs': it needs 'logprobs' set to true.", 'top_logprobs');
    out.logprobs = c.logprobs ? (c.top_logprobs ?? 0) : null;
    out.messages = d.messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
    }));
  } else {
    const c = r.data as z.output<typeof completionSchema>;
    const p = c.prompt;
    if (typeof p === 'string') out.prompt = p;
    else if (typeof p[0] === 'string') out.prompt = p[0];
    else if (typeof p[0] === 'number') out.promptIds = p as number[];
    else out.promptIds = (p as number[][])[0]!;
    out.logprobs = c.logprobs ?? null;
    out.echo = Boolean(c.echo);
    if (out.stream && out.echo) throw badRequest("'echo' is not supported with 'stream': true.", 'stream');
  }
  return out;
}
