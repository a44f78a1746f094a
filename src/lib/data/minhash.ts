/**
 * MinHash signatures and LSH banding for near-duplicate detection.
 *
 * Signatures use one-permutation hashing with optimal densification (Shrivastava, ICML 2017):
 * each shingle is hashed once and falls into one of `numPerm` bins, each bin keeps its minimum,
 * and empty bins borrow from a bin chosen by a fixed probe sequence. Two documents' bins agree
 * with probability equal to their Jaccard similarity, as with `numPerm` independent permutations,
 * at a cost of O(shingles + numPerm) instead of O(shingles x numPerm) (bench/data.bench.mjs
 * measures both). Candidates from LSH are always verified against the true Jaccard of the shingle
 * sets, so the estimator's variance costs recall at worst, never precision.
 */
import {combine, fmix32} from './hash.js';
import {textStats} from './textstats.js';

/** Sorted distinct hashes of the word n-grams (a text shorter than n is one shingle). */
export function shingles(text: string, n: number): Uint32Array {
  return shinglesOf(textStats(text).hashes, n);
}

/**
 * Same, from the word hashes of textStats (words without letters or digits are skipped). With
 * `sorted` false the hashes stay in text order with repeats: enough for signature() (a minimum per
 * bin), and the sort, needed only for the Jaccard check of LSH candidates, is left to sortedSet()
 * (sorting every document measured ~40% of near-dup's per-record cost).
 */
export function shinglesOf(all: Uint32Array, n: number, sorted = true): Uint32Array {
  let wn = 0;
  const w = new Uint32Array(all.length);
  for (let i = 0; i < all.length; i++) if (all[i] !== 0) w[wn++] = all[i]!;
  if (wn === 0) return new Uint32Array(0);
  const count = Math.max(1, wn - n + 1);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    let h = 0x9747b28c;
    const end = Math.min(wn, i + n);
    for (let j = i; j < end; j++) h = combine(h, w[j]!);
    out[i] = fmix32(h ^ (end - i));
  }
  return sorted ? sortedSet(out) : out;
}

/** Sorted distinct values of an array (sorted in place when it is not shared). */
export function sortedSet(a: Uint32Array): Uint32Array {
  const out = a.slice();
  out.sort();
  let k = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[k++] = out[i]!;
  return out.slice(0, k);
}

/** Probe sequence for densification, the same for every document (that is what keeps it unbiased). */
function probe(bin: number, attempt: number, seed: number, numPerm: number): number {
  return fmix32(combine(combine(seed, bin), attempt)) % numPerm;
}

export function signature(sh: Uint32Array, numPerm: number, seed: number): Uint32Array {
  const sig = new Uint32Array(numPerm).fill(0xffffffff);
  const filled = new Uint8Array(numPerm);
  let nonEmpty = 0;
  for (let i = 0; i < sh.length; i++) {
    const h = fmix32(sh[i]! ^ seed);
    const bin = h % numPerm;
    // The value inside a bin must be independent of the bin index: a second mix.
    const v = fmix32(h ^ 0x5bd1e995);
    if (!filled[bin]) {
      filled[bin] = 1;
      nonEmpty++;
    }
    if (v < sig[bin]!) sig[bin] = v;
  }
  if (nonEmpty === 0 || nonEmpty === numPerm) return sig;
  for (let b = 0; b < numPerm; b++) {
    if (filled[b]) continue;
    for (let attempt = 1; ; attempt++) {
      const src = probe(b, attempt, seed, numPerm);
      if (filled[src]) {
        sig[b] = sig[src]!;
        break;
      }
    }
  }
  return sig;
}

/** One 32-bit hash per band of `rows` signature values. */
export function bandHashes(sig: Uint32Array, bands: number, rows: number): Uint32Array {
  const out = new Uint32Array(bands);
  for (let b = 0; b < bands; b++) {
    let h = b;
    for (let r = 0; r < rows; r++) h = combine(h, sig[b * rows + r]!);
    out[b] = fmix32(h);
  }
  return out;
}

/** Exact Jaccard similarity of two sorted distinct arrays. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length === 0 && b.length === 0) return 1;
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      inter++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return inter / (a.length + b.length - inter);
}


export interface LshParams {
  bands: number;
  rows: number;
  /** Where the S-curve 1-(1-s^r)^b crosses 1/2's neighbour: (1/b)^(1/r), the usual effective threshold. */
  effectiveThreshold: number;
}

/**
 * Bands and rows minimising weighted false-positive and false-negative areas under the S-curve
 * (datasketch's method). False negatives weigh more by default because every candidate is
 * verified: a false positive costs one Jaccard computation, a false negative a missed duplicate.
 */
export function optimalLsh(threshold: number, numPerm: number, fpWeight = 0.2, fnWeight = 0.8): LshParams {
  // Simpson's rule over the two S-curve areas, with s ** r taken once per row count instead of
  // once per (bands, rows) pair: half the Math.pow calls (~40 ms of every run's start), and the
  // same sums bit for bit as evaluating the curve at each point (fastpaths.test.ts).
  const x0 = simpsonPoints(0, threshold);
  const x1 = simpsonPoints(threshold, 1);
  const v0 = new Float64Array(x0.length);
  const v1 = new Float64Array(x1.length);
  const pow0: Float64Array[] = [];
  const pow1: Float64Array[] = [];
  for (let r = 1; r <= numPerm; r++) {
    pow0[r] = x0.map((s) => s ** r);
    pow1[r] = x1.map((s) => s ** r);
  }
  let best = {bands: 1, rows: numPerm, err: Number.POSITIVE_INFINITY};
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; r <= Math.floor(numPerm / b); r++) {
      const p0 = pow0[r]!;
      const p1 = pow1[r]!;
      for (let i = 0; i < v0.length; i++) v0[i] = 1 - (1 - p0[i]!) ** b;
      for (let i = 0; i < v1.length; i++) v1[i] = (1 - p1[i]!) ** b;
      const fp = simpson(v0, 0, threshold);
      const fn = simpson(v1, threshold, 1);
      const err = fp * fpWeight + fn * fnWeight;
      if (err < best.err) best = {bands: b, rows: r, err};
    }
  }
  return {bands: best.bands, rows: best.rows, effectiveThreshold: effectiveThreshold(best.bands, best.rows)};
}

const SIMPSON_STEPS = 200;

/** Simpson's rule points on [a, b] (200 steps). */
function simpsonPoints(a: number, b: number): Float64Array {
  const n = SIMPSON_STEPS;
  const h = (b - a) / n;
  const x = new Float64Array(n + 1);
  for (let i = 1; i < n; i++) x[i] = a + i * h;
  x[0] = a;
  x[n] = b;
  return x;
}

/** Simpson's rule sum of f given its values at simpsonPoints(a, b). */
function simpson(v: Float64Array, a: number, b: number): number {
  const n = SIMPSON_STEPS;
  const h = (b - a) / n;
  let s = v[0]! + v[n]!;
  for (let i = 1; i < n; i++) s += v[i]! * (i % 2 ? 4 : 2);
  return (s * h) / 3;
}

export function effectiveThreshold(bands: number, rows: number): number {
  return (1 / bands) ** (1 / rows);
}

/** Probability that a pair of similarity s becomes a candidate. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}
