/**
 * Log-probabilities in OpenAI's shapes: the legacy completions object (tokens, token_logprobs,
 * top_logprobs, text_offset; what lm-evaluation-harness reads with echo) and chat's
 * logprobs.content. Values are the model's own distribution (log softmax of the raw logits), before
 * temperature or top-p, as vLLM reports them.
 */
import type {ModelTokenizer} from './tokenizer.js';
import {IncrementalDecoder} from './tokenizer.js';

export interface TokenLogprob {
  id: number;
  /** null for the first prompt token (nothing predicts it). */
  logprob: number | null;
  /** The `n` most likely tokens at this position, best first; null for the first prompt token. */
  top: Array<[id: number, logprob: number]> | null;
  /** Generated tokens: where the token's text starts in the generated text. */
  offset?: number;
}

/** log softmax at `target` and the `n` most likely tokens of logits[off..off+vocab). */
export function logprobsAt(logits: Float32Array, off: number, vocab: number, target: number, n: number): {logprob: number; top: Array<[number, number]>} {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (logits[off + v]! > max) max = logits[off + v]!;
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v]! - max);
  const lse = max + Math.log(sum);
  const top: Array<[number, number]> = [];
  if (n > 0) {
    // Insertion into a short sorted list: n is at most 20, the vocabulary up to ~150k.
    for (let v = 0; v < vocab; v++) {
      const x = logits[off + v]!;
      if (top.length === n && x <= top[n - 1]![1]) continue;
      let i = top.length;
      while (i > 0 && top[i - 1]![1] < x) i--;
      top.splice(i, 0, [v, x]);
      if (top.length > n) top.pop();
    }
    for (const t of top) t[1] -= lse;
  }
  return {logprob: logits[off + target]! - lse, top};
}

/** Each token's offset in the decoded text (a character split over tokens: the offset of where it starts). */
function promptOffsets(tok: ModelTokenizer, ids: number[]): number[] {
  const dec = new IncrementalDecoder(tok);
  const offsets: number[] = [];
  let at = 0;
  for (const id of ids) {
    offsets.push(at);
    at += dec.push(id).length;
  }
  return offsets;
}

export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
}

/**
 * The legacy /v1/completions logprobs object: the prompt's tokens first when echoed (their offsets
 * from decoding them), then generated tokens at their offsets in the generated text plus `base`
 * (the echoed prompt's length). A streamed chunk is the same object over that chunk's tokens.
 */
export function legacyLogprobs(tok: ModelTokenizer, prompt: TokenLogprob[], generated: TokenLogprob[], base = 0): LegacyLogprobs {
  const entries = [...prompt, ...generated];
  return {
    tokens: entries.map((e) => tok.decode([e.id])),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => (e.top === null ? null : Object.fromEntries(e.top.map(([id, lp]) => [tok.decode([id]), lp])))),
    text_offset: [...promptOffsets(tok, prompt.map((e) => e.id)), ...generated.map((e) => base + (e.offset ?? 0))],
  };
}

const bytesOf = (s: string) => [...Buffer.from(s, 'utf8')];

/** Chat's choices[].logprobs: {content: [{token, logprob, bytes, top_logprobs}], refusal: null}. */
export function chatLogprobs(tok: ModelTokenizer, entries: TokenLogprob[]): {content: unknown[]; refusal: null} {
  return {
    content: entries.map((e) => {
      const token = tok.decode([e.id]);
      return {
        token,
        logprob: e.logprob,
        bytes: bytesOf(token),
        top_logprobs: (e.top ?? []).map(([id, lp]) => ({token: tok.decode([id]), logprob: lp, bytes: bytesOf(tok.decode([id]))})),
      };
    }),
    refusal: null,
  };
}
