/**
 * Next-token selection: greedy, or temperature / top-k / top-p sampling driven by a seeded PRNG so
 * that the same seed (and prompt and parameters) gives the same completion.
 */
import {randomInt} from 'node:crypto';
import {prng} from '../util/prng.js';

export interface SamplingParams {
  temperature: number;
  topP: number;
  /** 0 or -1: no top-k cut. */
  topK: number;
}

/** The project's seeded PRNG (mulberry32): tiny, fast, and good enough for sampling. */
export function makeRng(seed: number | undefined): () => number {
  return prng(seed === undefined ? randomInt(0, 2 ** 32 - 1) : hashSeed(seed));
}

/** Folds any safe integer (OpenAI seeds may be 64-bit-ish) into 32 bits. */
function hashSeed(seed: number): number {
  const lo = seed % 2 ** 32;
  const hi = Math.floor(seed / 2 ** 32);
  return (Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
}

export function argmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const v = logits[offset + i]!;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

// Tokens whose scaled logit is this far below the best have probability < e^-20: dropping them
// before sorting keeps top-k/top-p cheap on large vocabularies without changing any outcome we
// could observe.
const NEGLIGIBLE = 20;

export function sampleToken(logits: Float32Array, offset: number, vocab: number, p: SamplingParams, rng: () => number): number {
  if (p.temperature <= 0) return argmax(logits, offset, vocab);
  const inv = 1 / p.temperature;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]! * inv);
  const cand: number[] = [];
  for (let i = 0; i < vocab; i++) if (logits[offset + i]! * inv >= max - NEGLIGIBLE) cand.push(i);
  cand.sort((a, b) => logits[offset + b]! - logits[offset + a]! || a - b);
  let n = cand.length;
  if (p.topK > 0 && p.topK < n) n = p.topK;
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp(logits[offset + cand[i]!]! * inv - max);
    sum += probs[i]!;
  }
  if (p.topP < 1) {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += probs[i]! / sum;
      if (acc >= p.topP) {
        n = i + 1;
        break;
      }
    }
    sum = 0;
    for (let i = 0; i < n; i++) sum += probs[i]!;
  }
  let r = rng() * sum;
  for (let i = 0; i < n; i++) {
    r -= probs[i]!;
    if (r <= 0) return cand[i]!;
  }
  return cand[n - 1]!;
}
