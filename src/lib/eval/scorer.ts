/**
 * Log-likelihood scoring on the deploy engine's ONNX session (serve/engine.ts loads the model; this
 * adds no loader of its own).
 *
 * Requests are batched by length: rows right-padded to the batch's longest row, attention_mask 0
 * over the pads. The model is causal, so a real token never sees a pad after it, and each row's
 * numbers are those it gets alone (test/eval/scorer.test.ts checks batched against unbatched).
 *
 * The log-softmax at the scored positions runs in onnxruntime (score-head.ts): with a real
 * vocabulary it is one exp per logit, which in JavaScript costs more than the model's forward pass.
 * The JavaScript one (`head: 'js'`) stays as the reference the tests compare it with.
 */
import type {OnnxModel} from '../serve/engine.js';
import type {ModelTokenizer} from '../model/tokenizer.js';
import {ScoreHead} from './score-head.js';
import {pairRequest, rollingRequests, type ScoreRequest} from './windows.js';

export interface Scored {
  /** Log-probability of each target token ids[from..], natural log. */
  logprobs: number[];
  /** Whether each target token was the model's argmax at its position. */
  greedy: boolean[];
}

export interface ScorerOptions {
  /** Most rows in one forward pass. */
  maxRows?: number;
  /** Most tokens (rows x padded length) in one forward pass. */
  maxTokens?: number;
  /** Most bytes of logits (rows x padded length x vocabulary x 4) one forward pass returns; default 256 MiB. */
  maxLogitsBytes?: number;
  /** Longest sequence fed at once (rolling window length); default and maximum: the model's context length. */
  maxLength?: number;
  /** Called after each batch with the number of requests done. */
  onProgress?: (done: number, total: number) => void;
  /** Where the log-softmax runs: onnxruntime (default) or JavaScript (the reference). */
  head?: 'onnx' | 'js';
  /** onnxruntime intra-op threads of the log-softmax (default 1; the eval engine passes the model's). */
  threads?: number;
}

/**
 * log softmax of logits[off..off+V) at `target`, and whether `target` is the (first) argmax: one
 * pass, the running sum rescaled when a new maximum appears (one exp per logit, no allocation).
 */
export function logprobAt(logits: Float32Array, off: number, vocab: number, target: number): {lp: number; top: boolean} {
  let max = logits[off]!;
  let arg = 0;
  let sum = 1;
  for (let v = 1; v < vocab; v++) {
    const x = logits[off + v]!;
    if (x > max) {
      sum = sum * Math.exp(max - x) + 1;
      max = x;
      arg = v;
    } else sum += Math.exp(x - max);
  }
  return {lp: logits[off + target]! - max - Math.log(sum), top: arg === target};
}

export class Scorer {
  readonly contextLength: number;
  /** Tokens a text starts with: the tokenizer's BOS when it adds one. */
  readonly prefix: number[];
  /** The token an empty context is scored after (BOS, else end-of-text), as lm-evaluation-harness does. */
  readonly emptyPrefix: number;
  private head: Promise<ScoreHead> | null = null;

  constructor(
    readonly model: OnnxModel,
    readonly tokenizer: ModelTokenizer,
    private readonly opts: ScorerOptions = {},
  ) {
    this.contextLength = Math.min(model.spec.contextLength, opts.maxLength ?? Infinity);
    // As the tokenizer encodes a text with its special tokens: BOS first when the model's config
    // says so (Llama, llmops's own export), nothing for GPT-2 or Qwen.
    const bos = tokenizer.bosId;
    this.prefix = tokenizer.addBos && bos !== null ? [bos] : [];
    this.emptyPrefix = bos ?? tokenizer.eosIds[0] ?? 0;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** Scores requests in batches; results in the order given. */
  async score(reqs: ScoreRequest[], onProgress = this.opts.onProgress): Promise<Scored[]> {
    const maxRows = this.opts.maxRows ?? 16;
    const maxTokens = this.opts.maxTokens ?? 8192;
    const maxLogitsBytes = this.opts.maxLogitsBytes ?? 256 * 2 ** 20;
    const vocab = this.model.spec.vocabSize;
    const order = reqs.map((_, i) => i).sort((a, b) => reqs[b]!.ids.length - reqs[a]!.ids.length);
    const out: Scored[] = new Array(reqs.length);
    let done = 0;
    for (let i = 0; i < order.length; ) {
      const s = Math.max(1, reqs[order[i]!]!.ids.length - 1); // longest first: this batch's width
      // A big vocabulary caps the rows too: 16 windows of 256 tokens of a 32k model are 512 MiB of logits.
      const rows = Math.max(1, Math.min(maxRows, Math.floor(maxTokens / s), Math.floor(maxLogitsBytes / (s * vocab * 4))));
      const batch = order.slice(i, i + rows);
      const results = await this.scoreBatch(batch.map((k) => reqs[k]!), s);
      batch.forEach((k, j) => (out[k] = results[j]!));
      i += batch.length;
      done += batch.length;
      onProgress?.(done, reqs.length);
    }
    return out;
  }

  private async scoreBatch(reqs: ScoreRequest[], s: number): Promise<Scored[]> {
    const b = reqs.length;
    const ids = new BigInt64Array(b * s);
    const pos = new BigInt64Array(b * s);
    const mask = new BigInt64Array(b * s);
    // The scored positions (row * s + t - 1 predicts token t) and their targets, in request order.
    const at: number[] = [];
    const targets: number[] = [];
    reqs.forEach((r, row) => {
      const n = r.ids.length - 1;
      for (let t = 0; t < s; t++) {
        ids[row * s + t] = BigInt(t < n ? r.ids[t]! : this.emptyPrefix);
        pos[row * s + t] = BigInt(Math.min(t, Math.max(0, n - 1)));
        mask[row * s + t] = t < n ? 1n : 0n;
      }
      for (let t = r.from; t < r.ids.length; t++) {
        at.push(row * s + t - 1);
        targets.push(r.ids[t]!);
      }
    });
    const logits = await this.model.allLogits(ids, pos, mask, b, s);
    const {lp, top} = await this.logSoftmaxAt(logits, at, targets);
    let k = 0;
    return reqs.map((r) => {
      const logprobs: number[] = [];
      const greedy: boolean[] = [];
      for (let t = r.from; t < r.ids.length; t++, k++) {
        logprobs.push(lp[k]!);
        greedy.push(top[k] === 1);
      }
      return {logprobs, greedy};
    });
  }

  /** log softmax at each (position, target) of logits [*, V], and whether the target is the argmax there. */
  private async logSoftmaxAt(logits: Float32Array, at: number[], targets: number[]): Promise<{lp: ArrayLike<number>; top: Uint8Array}> {
    const vocab = this.model.spec.vocabSize;
    const n = at.length;
    const top = new Uint8Array(n);
    if (this.opts.head === 'js') {
      const lp = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const r = logprobAt(logits, at[i]! * vocab, vocab, targets[i]!);
        lp[i] = r.lp;
        top[i] = r.top ? 1 : 0;
      }
      return {lp, top};
    }
    // Only the scored rows go to the head: padding and context-only positions are skipped (a
    // view of the logits when every position is scored, as in rolling windows without padding).
    const all = at.every((p, i) => p === i);
    let rows = logits.subarray(0, n * vocab);
    if (!all) {
      rows = new Float32Array(n * vocab);
      at.forEach((p, i) => rows.set(logits.subarray(p * vocab, (p + 1) * vocab), i * vocab));
    }
    this.head ??= ScoreHead.create(this.opts.threads ?? 1);
    const out = await (await this.head).run(rows, n, vocab, BigInt64Array.from(targets, (t) => BigInt(t)));
    for (let i = 0; i < n; i++) top[i] = Number(out.argmax[i]) === targets[i] ? 1 : 0;
    return {lp: out.logprob, top};
  }

  /** Releases the log-softmax session (the model is the caller's). */
  async close(): Promise<void> {
    const head = this.head;
    this.head = null;
    if (head) await (await head).close();
  }

  /** lm-evaluation-harness's loglikelihood: sum of the continuation's log-probabilities after the context. */
  async loglikelihood(pairs: Array<[context: string, continuation: string]>, onProgress?: ScorerOptions['onProgress']): Promise<Array<{ll: number; greedy: boolean; tokens: number}>> {
    const reqs = pairs.map(([c, x]) => pairRequest(this.tokenizer, this.prefix, this.emptyPrefix, c, x, this.contextLength));
    const scored = await this.score(reqs, onProgress);
    return scored.map((r) => ({ll: sum(r.logprobs), greedy: r.greedy.every(Boolean), tokens: r.logprobs.length}));
  }

  /**
   * Log-probability of every token of each sequence after its first, in rolling windows of the
   * context length; `mask` (same length) keeps only some tokens (assistant tokens of a chat).
   */
  async rolling(seqs: Array<{ids: number[]; mask?: number[]}>, onProgress?: ScorerOptions['onProgress']): Promise<Array<{ll: number; tokens: number}>> {
    const reqs: Array<ScoreRequest & {seq: number; offset: number}> = [];
    seqs.forEach((s, k) => {
      for (const r of rollingRequests(s.ids, this.contextLength)) reqs.push({...r, seq: k});
    });
    const scored = await this.score(reqs, onProgress);
    const totals = seqs.map(() => ({ll: 0, tokens: 0}));
    reqs.forEach((r, i) => {
      const m = seqs[r.seq]!.mask;
      scored[i]!.logprobs.forEach((lp, j) => {
        if (m && !m[r.offset + r.from + j]) return;
        totals[r.seq]!.ll += lp;
        totals[r.seq]!.tokens++;
      });
    });
    return totals;
  }

  /** lm-evaluation-harness's loglikelihood_rolling: a text's log-likelihood after the prefix token. */
  async loglikelihoodRolling(texts: string[], onProgress?: ScorerOptions['onProgress']): Promise<Array<{ll: number; tokens: number}>> {
    return this.rolling(
      texts.map((t) => ({ids: [...(this.prefix.length > 0 ? this.prefix : [this.emptyPrefix]), ...this.encode(t)]})),
      onProgress,
    );
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
