/**
 * One generation in flight: its sampling state, its text so far, stop detection and timings.
 * The scheduler feeds it tokens; it decides when it is finished and what text may be streamed.
 */
import {logprobsAt, type TokenLogprob} from './logprobs.js';
import {makeRng, sampleToken, type SamplingParams} from './sampling.js';
import {IncrementalDecoder, type ModelTokenizer} from './tokenizer.js';

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error';

export interface GenerationRequest {
  promptIds: number[];
  maxTokens: number;
  sampling: SamplingParams;
  seed?: number;
  /** Stop strings from the request (the model's own stop tokens always apply). */
  stop: string[];
  /** vLLM's extension: keep generating past end-of-sequence tokens (benchmarks need fixed lengths). */
  ignoreEos?: boolean;
  /** Aborting cancels the generation (client gone, deadline). */
  signal?: AbortSignal;
  /**
   * Streaming: called with each new piece of text that can no longer be part of a stop string and,
   * with `logprobs`, the generated tokens whose text starts in that piece (a token whose text is
   * held back, an incomplete character or a possible stop string, comes with the piece that
   * releases it). Over the whole stream these are exactly the result's `logprobs`.
   */
  onDelta?: (text: string, tokens: TokenLogprob[]) => void;
  /** Record each generated token's log-probability and this many most likely alternatives. */
  logprobs?: number;
  /**
   * Decode and stream text at most this often (ms; the first token at once, the rest with the next
   * token after the interval, all at the end): the stream's writes wait this long anyway
   * (deploy.stream_flush_ms), and one decode of many tokens costs less than one per token. Not
   * with stop strings or logprobs, which need the text at every token. Default 0: every token.
   */
  decodeIntervalMs?: number;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  queueMs: number;
  ttftMs: number | null;
  e2eMs: number;
  /** Mean inter-token latency, null with fewer than two tokens. */
  itlMs: number | null;
  error?: string;
  /**
   * With `logprobs`: the generated tokens whose text starts inside `text` (the end token and tokens
   * cut by a stop string excluded), their log-probabilities and offsets in `text`.
   */
  logprobs?: TokenLogprob[];
}

export class Sequence {
  readonly arrival = performance.now();
  startedAt: number | null = null;
  firstTokenAt: number | null = null;
  lastTokenAt: number | null = null;
  completion = 0;
  finished: FinishReason | null = null;
  error?: string;
  private readonly rng: () => number;
  private readonly decoder: IncrementalDecoder;
  private raw = '';
  private readonly tokenLogprobs: TokenLogprob[] = [];
  /** tokenLogprobs before this index went out with a delta. */
  private sentTokens = 0;
  private emitted = 0;
  private readonly maxStopLen: number;
  /** See GenerationRequest.decodeIntervalMs: 0 when every token must be decoded as it comes. */
  private readonly decodeEvery: number;
  private lastDecode = -Infinity;
  readonly promise: Promise<GenerationResult>;
  private resolve!: (r: GenerationResult) => void;

  constructor(
    readonly req: GenerationRequest,
    tokenizer: ModelTokenizer,
    private readonly stopIds: Set<number>,
  ) {
    this.rng = makeRng(req.seed);
    this.decoder = new IncrementalDecoder(tokenizer, req.promptIds);
    this.maxStopLen = Math.max(0, ...req.stop.map((s) => s.length));
    const eager = req.stop.length > 0 || req.logprobs !== undefined;
    // Nobody reads the text of a request that is not streamed before it ends: one decode at the end.
    this.decodeEvery = eager ? 0 : req.onDelta ? (req.decodeIntervalMs ?? 0) : Infinity;
    this.promise = new Promise((resolve) => (this.resolve = resolve));
  }

  get cancelled(): boolean {
    return Boolean(this.req.signal?.aborted);
  }

  /** Samples the next token from this row's logits; returns it, or -1 when the sequence ended. */
  accept(logits: Float32Array, offset: number, vocab: number): number {
    const now = performance.now();
    const id = sampleToken(logits, offset, vocab, this.req.sampling, this.rng);
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
    this.completion++;
    if (this.stopIds.has(id) && !this.req.ignoreEos) {
      this.finish('stop');
      return -1;
    }
    if (this.req.logprobs !== undefined) {
      const {logprob, top} = logprobsAt(logits, offset, vocab, id, this.req.logprobs);
      // The token's text starts where the text decoded so far ends (a token that completes a
      // character held back by the decoder shares the offset of the one that began it).
      this.tokenLogprobs.push({id, logprob, top, offset: this.raw.length});
    }
    this.decoder.append(id);
    if (now - this.lastDecode >= this.decodeEvery) {
      this.lastDecode = now;
      this.raw += this.decoder.drain();
      if (this.checkStopStrings()) return -1;
    }
    if (this.completion >= this.req.maxTokens) {
      this.raw += this.decoder.flush();
      if (!this.checkStopStrings()) {
        this.emit(this.raw.length);
        this.finish('length');
      }
      return -1;
    }
    return id;
  }

  private checkStopStrings(): boolean {
    if (this.req.stop.length === 0) {
      this.emit(this.raw.length);
      return false;
    }
    const from = Math.max(0, this.emitted - this.maxStopLen);
    let cut = -1;
    for (const s of this.req.stop) {
      const i = this.raw.indexOf(s, from);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.raw = this.raw.slice(0, cut);
      this.emit(cut);
      this.finish('stop');
      return true;
    }
    // Hold back a tail that could still become a stop string.
    let hold = 0;
    for (const s of this.req.stop) {
      for (let k = Math.min(s.length - 1, this.raw.length); k > hold; k--) {
        if (this.raw.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    this.emit(this.raw.length - hold);
    return false;
  }

  private emit(upTo: number): void {
    if (upTo <= this.emitted) return;
    const piece = this.raw.slice(this.emitted, upTo);
    this.emitted = upTo;
    const from = this.sentTokens;
    while (this.sentTokens < this.tokenLogprobs.length && this.tokenLogprobs[this.sentTokens]!.offset! < upTo) this.sentTokens++;
    this.req.onDelta?.(piece, this.tokenLogprobs.slice(from, this.sentTokens));
  }

  finish(reason: FinishReason, error?: string): void {
    if (this.finished) return;
    if (reason === 'stop' || reason === 'length') {
      // Tokens taken but not decoded yet (decodeIntervalMs) are decoded as every token would have been.
      this.raw += this.decoder.drain();
      this.emit(this.raw.length);
    }
    this.finished = reason;
    this.error = error;
    const end = performance.now();
    const started = this.startedAt ?? end;
    this.resolve({
      text: this.raw.slice(0, this.emitted),
      finishReason: reason,
      promptTokens: this.req.promptIds.length,
      completionTokens: this.completion,
      queueMs: started - this.arrival,
      ttftMs: this.firstTokenAt === null ? null : this.firstTokenAt - this.arrival,
      e2eMs: end - this.arrival,
      itlMs:
        this.completion > 1 && this.firstTokenAt !== null && this.lastTokenAt !== null
          ? (this.lastTokenAt - this.firstTokenAt) / (this.completion - 1)
          : null,
      ...(error ? {error} : {}),
      ...(this.req.logprobs === undefined ? {} : {logprobs: this.tokenLogprobs.filter((t) => t.offset! < this.emitted)}),
    });
  }
}
