/**
 * The shape of a completion's answer in OpenAI's API: SSE chunks (`chat.completion.chunk` or
 * `text_completion`) while streaming, one JSON object otherwise, and errors in either form.
 */
import type {ServerResponse} from 'node:http';
import type {ApiError} from './api-error.js';
import {chatLogprobs, legacyLogprobs, type TokenLogprob} from './logprobs.js';
import type {GenerationResult} from './sequence.js';
import {SseStream} from './sse.js';
import type {ModelTokenizer} from './tokenizer.js';
import type {ParsedRequest} from './validate.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers});
  res.end(text);
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export class CompletionResponse {
  readonly id: string;
  private readonly chat: boolean;
  private readonly object: string;
  private readonly events: SseStream;
  /** A text chunk's JSON around its text, built once: a streamed token costs one string escape. */
  private readonly deltaAround: [string, string];

  constructor(
    private readonly res: ServerResponse,
    private readonly p: ParsedRequest,
    private readonly tokenizer: ModelTokenizer,
    private readonly model: string,
    private readonly createdS: number,
    uuid: string,
    flushMs?: number,
  ) {
    this.chat = p.endpoint === 'chat';
    this.id = (this.chat ? 'chatcmpl-' : 'cmpl-') + uuid;
    this.object = this.chat ? 'chat.completion.chunk' : 'text_completion';
    this.events = new SseStream(res, flushMs);
    const mark = '\u0000delta';
    const parts = JSON.stringify(this.chunk(mark, null)).split(JSON.stringify(mark));
    this.deltaAround = [parts[0]!, parts[1]!];
  }

  private head() {
    return {id: this.id, object: this.object, created: this.createdS, model: this.model};
  }

  // A streamed chunk carries the log-probabilities of the tokens whose text starts in its delta.
  private chunkLogprobs(tokens: TokenLogprob[] | null) {
    if (this.p.logprobs === null || tokens === null) return null;
    return this.chat ? chatLogprobs(this.tokenizer, tokens) : legacyLogprobs(this.tokenizer, [], tokens);
  }

  private chunk(delta: string | null, finish: string | null, tokens: TokenLogprob[] | null = null) {
    const logprobs = this.chunkLogprobs(tokens);
    const choice = this.chat
      ? {index: 0, delta: delta === null ? {} : {content: delta}, logprobs, finish_reason: finish}
      : {index: 0, text: delta ?? '', logprobs, finish_reason: finish};
    return {...this.head(), choices: [choice], ...(this.p.includeUsage ? {usage: null} : {})};
  }

  /** Streaming: the headers, and for a chat the first chunk with the assistant's role. */
  start(): void {
    this.res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive'});
    if (this.chat) this.events.send({...this.head(), choices: [{index: 0, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}], ...(this.p.includeUsage ? {usage: null} : {})});
  }

  /** Streaming: one new piece of text. */
  delta(text: string, tokens: TokenLogprob[] = []): void {
    if (this.p.logprobs !== null) return this.events.send(this.chunk(text, null, tokens));
    this.events.sendJson(this.deltaAround[0] + JSON.stringify(text) + this.deltaAround[1]);
  }

  /** A generation that ended normally (stop or length): the last chunks, or the whole answer. */
  ok(r: GenerationResult, usage: Usage, prompted: TokenLogprob[] | undefined, promptText: string): void {
    if (this.p.stream) {
      this.events.send(this.chunk(null, r.finishReason));
      if (this.p.includeUsage) this.events.send({...this.head(), choices: [], usage});
      return this.events.end();
    }
    const chat = this.chat;
    const generated = r.logprobs ?? [];
    const logprobs =
      this.p.logprobs === null ? null : chat ? chatLogprobs(this.tokenizer, generated) : legacyLogprobs(this.tokenizer, prompted ?? [], generated, this.p.echo ? promptText.length : 0);
    sendJson(this.res, 200, {
      id: this.id,
      object: chat ? 'chat.completion' : 'text_completion',
      created: this.createdS,
      model: this.model,
      choices: [
        chat
          ? {index: 0, message: {role: 'assistant', content: r.text}, logprobs, finish_reason: r.finishReason}
          : {index: 0, text: this.p.echo ? promptText + r.text : r.text, logprobs, finish_reason: r.finishReason},
      ],
      usage,
    });
  }

  /** A generation that failed: the error as a last event, or as the answer (nobody left to tell: nothing). */
  error(err: ApiError): void {
    if (this.res.destroyed) return;
    if (this.p.stream) {
      this.events.send(err.toBody());
      this.events.end();
    } else sendJson(this.res, err.status, err.toBody());
  }
}
