/**
 * One pass over a document's characters yielding what quality filters and MinHash both need:
 * whitespace-separated words, their hashes (lowercase, letters and digits only, so "Hello," and
 * "hello" are one word), lengths, and digit/symbol counts. The first version used regex splits
 * and string-keyed Maps per n-gram size; this pass made the quality stage ~6x faster
 * (measured on the bench corpus).
 */
import {fmix32} from './hash.js';
import {PACKED_MAX, code6, putTerm} from './term-key.js';

export interface TextStats {
  words: number;
  wordChars: number;
  digits: number;
  /** Gopher's symbols: "#" characters, and ellipses ("..." counted as str.count does, and "…"). */
  hashSigns: number;
  ellipses: number;
  /** Per word: hash of its lowercase letters/digits, 0 when it has none (pure punctuation).
   * This and `lens` are views of buffers the next textStats call reuses. */
  hashes: Uint32Array;
  /** Per word: length in UTF-16 units (for n-gram character fractions). */
  lens: Uint32Array;
  /** Whether the text has "@" or ":" (with digits, what the PII detectors need: see pii.ts). */
  atOrColon: boolean;
  /**
   * Only when asked for and the text is all ASCII: the drift-profile terms (profile-terms.ts) as
   * (start, end, k0, k1) quadruples (keys: term-key.ts), found in this same pass so the text is not
   * scanned twice. A view of a buffer the next call reuses.
   */
  terms?: Int32Array;
  /**
   * Facts the same pass gets almost for free (the branches sit off the letter path), so later
   * stages need not scan again: `plain`, only printable ASCII and newlines (already NFC, no
   * controls); `markup`, has "<" or "&"; `spacing`, whitespace collapse would change it (a space or
   * newline at either end, a double space, a space next to a newline, three newlines in a row);
   * `jsonPlain`, JSON.stringify would escape nothing but newlines (no quote, backslash, other
   * control character or surrogate).
   */
  plain: boolean;
  markup: boolean;
  spacing: boolean;
  jsonPlain: boolean;
  /** Longest run of 2, 3 and 4 consecutive words, in characters of the words (maxWindowChars). */
  window: [number, number, number];
}

/** Characters with a flag of their own: # & < @ \ (isFlagged keeps them off the common path). */
function isFlagged(c: number): boolean {
  return c === 35 || c === 38 || c === 60 || c === 64 || c === 92;
}

let hashBuf = new Uint32Array(4096);
let keys = new Uint32Array(1024);
let counts = new Int32Array(1024);
let lenBuf = new Uint32Array(4096);
let gramBuf = new Uint32Array(4096);
let termBuf = new Int32Array(4 * 4096);

/** Appends the term text[a..b) with its key; returns the new fill of termBuf. */
function pushTerm(text: string, tk: number, a: number, b: number, lo: number, hi: number): number {
  if (tk + 4 > termBuf.length) {
    const t = new Int32Array(termBuf.length * 2);
    t.set(termBuf);
    termBuf = t;
  }
  putTerm(termBuf, tk, text, a, b, lo, hi);
  return tk + 4;
}

/**
 * withTerms: also find the profile terms, the same way TermBatch.add's scan does (lowercase runs of
 * ASCII letters/digits, greedy pieces of at most 24, pieces of one character dropped), with their
 * keys (term-key.ts).
 */
export function textStats(text: string, withTerms = false): TextStats {
  let words = 0;
  let wordChars = 0;
  let digits = 0;
  let hashSigns = 0;
  let ellipses = 0;
  // Position of the last "." and the length of the run of dots ending there.
  let lastDot = -9;
  let dotRun = 0;
  let h = 0x2545f491;
  let alnum = 0;
  let len = 0;
  let atOrColon = false;
  let plain = true;
  let markup = false;
  let spacing = false;
  let jsonPlain = true;
  // Positions of the last space, the last newline and the newline before it.
  let lastSp = -9;
  let lastNl = -9;
  let prevNl = -9;
  // Lengths of the three words before the current one, and the longest 2-, 3- and 4-word runs.
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let w2 = 0;
  let w3 = 0;
  let w4 = 0;
  const n = text.length;
  // Term state: tk < 0 when not asked for or after a non-ASCII character (the caller then uses the
  // regex path); ts = start of the current term, -1 when none.
  let tk = withTerms ? 0 : -1;
  let ts = -1;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if (c === 32 || c === 10 || c === 9 || c === 13) {
      // The sentinel space at i === n flags a trailing space or newline, as collapsing trims it.
      if (c === 32) {
        if (lastSp === i - 1 || lastNl === i - 1) spacing = true;
        lastSp = i;
      } else if (c === 10) {
        if (lastSp === i - 1 || (lastNl === i - 1 && prevNl === i - 2)) spacing = true;
        prevNl = lastNl;
        lastNl = i;
      } else {
        plain = false;
        jsonPlain = false;
      }
      if (ts >= 0 && tk >= 0) {
        if (i - ts >= 2) tk = pushTerm(text, tk, ts, i, lo, hi);
        ts = -1;
      }
      if (len > 0) {
        if (words === hashBuf.length) {
          const hb = new Uint32Array(words * 2);
          hb.set(hashBuf);
          hashBuf = hb;
          const lb = new Uint32Array(words * 2);
          lb.set(lenBuf);
          lenBuf = lb;
        }
        hashBuf[words] = alnum > 0 ? fmix32(h ^ alnum) || 1 : 0;
        lenBuf[words] = len;
        // Runs ending at this word, kept here so quality needs no extra pass over the lengths. A run
        // cut short at the start (earlier lengths 0) lies inside the first full run, so it never
        // exceeds the maximum of a document that has n words (fewer: maxWindowChars says 0).
        const r2 = len + p1;
        const r3 = r2 + p2;
        const r4 = r3 + p3;
        if (r2 > w2) w2 = r2;
        if (r3 > w3) w3 = r3;
        if (r4 > w4) w4 = r4;
        p3 = p2;
        p2 = p1;
        p1 = len;
        words++;
        wordChars += len;
        len = 0;
        alnum = 0;
        h = 0x2545f491;
      }
      continue;
    }
    len++;
    let k = -1;
    if (c >= 97 && c <= 122) k = c;
    else if (c >= 65 && c <= 90) k = c + 32;
    else if (c >= 48 && c <= 57) {
      k = c;
      digits++;
    } else if (c >= 128) {
      k = c;
      plain = false;
      if ((c & 0xf800) === 0xd800) jsonPlain = false;
      else if (c === 0x2026) ellipses++;
    } else if (c === 46) {
      // "..." counted without overlap, as Python's str.count("...") does: one per third dot of a run.
      dotRun = lastDot === i - 1 ? dotRun + 1 : 1;
      lastDot = i;
      if (dotRun % 3 === 0) ellipses++;
    } else if (isFlagged(c)) {
      if (c === 35) hashSigns++;
      else if (c === 64) atOrColon = true;
      else if (c === 92) jsonPlain = false;
      else if (c === 60 || c === 38) markup = true;
    } else if (c === 58) atOrColon = true;
    else if (c === 34) jsonPlain = false;
    else if (c < 32 || c === 127) {
      plain = false;
      if (c < 32) jsonPlain = false;
    }
    if (tk >= 0) {
      if (k >= 0 && c < 128) {
        if (ts < 0) {
          ts = i;
          lo = 0;
          hi = 0;
        }
        // Terms past 10 characters are keyed by hash (pushTerm); packing stops there so lo and hi
        // stay within 30 bits (small integers: a wrapped int32 measured 2x slower for the loop).
        const pos = i - ts;
        if (pos < 5) lo = (lo << 6) | code6(k);
        else if (pos < PACKED_MAX) hi = (hi << 6) | code6(k);
        if (pos === 23) {
          tk = pushTerm(text, tk, ts, i + 1, lo, hi);
          ts = -1;
        }
      } else if (c >= 128) {
        tk = -1;
      } else if (ts >= 0) {
        if (i - ts >= 2) tk = pushTerm(text, tk, ts, i, lo, hi);
        ts = -1;
      }
    }
    if (k >= 0) {
      alnum++;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  // Views, not copies: every caller is done with them before the next textStats call (one fewer
  // pair of allocations per record).
  if (n > 0 && (text.charCodeAt(0) === 32 || text.charCodeAt(0) === 10)) spacing = true;
  const st: TextStats = {words, wordChars, digits, hashSigns, ellipses, hashes: hashBuf.subarray(0, words), lens: lenBuf.subarray(0, words), atOrColon,
    plain, markup, spacing, jsonPlain, window: [w2, w3, w4]};
  if (tk >= 0) st.terms = termBuf.subarray(0, tk);
  return st;
}

/**
 * Gopher's top n-gram character fraction, on word hashes: characters of the most frequent word
 * n-gram (including the spaces inside it) times its count, over the document length.
 */
export function topNgramFraction(s: TextStats, n: number, totalChars: number): number {
  return topNgram(s, n, totalChars).frac;
}

/** Characters of the longest run of n consecutive words, spaces inside included. */
export function maxWindowChars(s: TextStats, n: number): number {
  if (s.words < n) return 0;
  if (n >= 2 && n <= 4) return s.window[n - 2]! + n - 1;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s.lens[i]!;
  let best = sum;
  for (let i = n; i < s.words; i++) {
    sum += s.lens[i]! - s.lens[i - n]!;
    if (sum > best) best = sum;
  }
  return best + n - 1;
}

let buckets = new Uint32Array(1024);

/**
 * An upper bound of the most frequent n-gram's count: n-grams counted per bucket of their hash,
 * without telling apart the n-grams that share one, so no bucket count is below the true count of
 * an n-gram in it. Cheaper than topNgram's exact table (no keys, no probing); checkQuality only
 * counts exactly when this bound cannot clear a document.
 */
export function ngramCountBound(s: TextStats, n: number): number {
  const m = s.words - n + 1;
  if (m < 2) return m < 1 ? 0 : 1;
  let bits = 4;
  while (1 << bits < m * 2) bits++;
  const cap = 1 << bits;
  if (buckets.length < cap) buckets = new Uint32Array(cap);
  buckets.fill(0, 0, cap);
  const mask = cap - 1;
  const hs = s.hashes;
  let best = 0;
  for (let i = 0; i < m; i++) {
    let h = 0x9747b28c;
    for (let j = 0; j < n; j++) h = Math.imul(h ^ hs[i + j]!, 0x01000193);
    // The n-gram's key exactly as topNgram makes it (0 joins 1 there), so the bound holds for its count.
    const c = ++buckets[(fmix32(h) || 1) & mask]!;
    if (c > best) best = c;
  }
  return best;
}

/** The fraction and the count of the most frequent n-gram (count 0 when none repeats). */
export function topNgram(s: TextStats, n: number, totalChars: number): {frac: number; best: number} {
  const m = s.words - n + 1;
  if (m < 2) return {frac: 0, best: 0};
  if (gramBuf.length < m) gramBuf = new Uint32Array(m * 2);
  const grams = gramBuf.subarray(0, m);
  for (let i = 0; i < m; i++) {
    let h = 0x9747b28c;
    for (let j = 0; j < n; j++) h = Math.imul(h ^ s.hashes[i + j]!, 0x01000193);
    grams[i] = fmix32(h);
  }
  // Counting in a small open-addressing table: sorting the n-grams measured ~3x slower.
  let cap = 16;
  while (cap < m * 2) cap *= 2;
  if (keys.length < cap) {
    keys = new Uint32Array(cap);
    counts = new Int32Array(cap);
  }
  keys.fill(0, 0, cap);
  counts.fill(0, 0, cap);
  const mask = cap - 1;
  let best = 0;
  let bestHash = 0;
  for (let i = 0; i < m; i++) {
    const g = grams[i]! || 1;
    let j = g & mask;
    while (keys[j] !== 0 && keys[j] !== g) j = (j + 1) & mask;
    keys[j] = g;
    const c = ++counts[j]!;
    if (c > best) {
      best = c;
      bestHash = g;
    }
  }
  for (let i = 0; i < m; i++) if (grams[i] === 0) grams[i] = 1;
  if (best < 2) return {frac: 0, best};
  // Among n-grams with the top count, the first to occur (as Counter.most_common picks in
  // datatrove): its length decides the fraction when tied n-grams differ in length.
  let at = grams.indexOf(bestHash);
  for (let i = 0; i < at; i++) {
    const g = grams[i]!;
    let j = g & mask;
    while (keys[j] !== g) j = (j + 1) & mask;
    if (counts[j] === best) {
      at = i;
      break;
    }
  }
  let chars = n - 1;
  for (let j = 0; j < n; j++) chars += s.lens[at + j]!;
  return {frac: (best * chars) / totalChars, best};
}
