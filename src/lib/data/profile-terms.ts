/**
 * The drift reference profile (profile.json) built the way ReferenceProfileBuilder (profile/profile.ts)
 * builds it, split in two so the term counting happens in the workers:
 *
 * - TermBatch (worker): counts the training prompts a worker sees (across its batches, until it
 *   is flushed), their length bins and the documents each term occurs in. Term extraction on ASCII prompts is a hand-written scan with the
 *   same result as `terms()` (lowercase runs of letters/digits cut into pieces of 2..24); other
 *   prompts go through `terms()` itself.
 * - ProfileTotals (main thread): sums the workers' tables and subtracts the prompts of the records
 *   that dedup removed afterwards (the workers cannot know those; the main thread counts them in a
 *   TermBatch of its own), then builds the same JSON as the builder.
 *
 * Counting on the main thread measured ~2.3 s per 30 MB (a third of the whole run, on the thread
 * that orders and writes); test/data/profile-terms.test.ts checks the result equals the builder's.
 */
import {LENGTH_EDGES, REFERENCE_TOP_TERMS, lengthBin, referenceProfile, terms, type ReferenceProfile} from '../profile/profile.js';
import {HARD, LONG, LOWER, PACKED_MAX, TERM, code6, fnvLower, keyHash, keyOfTerm, kindOf, lowerOf, putTerm} from './term-key.js';

export interface ProfilePart {
  count: number;
  lengths: number[];
  total: number;
  /** Terms joined by "\n" (terms are letters and digits only). */
  terms: string;
  counts: Uint32Array;
}

/**
 * Document frequencies of terms in flat typed arrays: an open-addressing table of slots
 * (k0, k1, term index, last document) keyed as term-key.ts says, per term (offset, length) and
 * count, and the lowercased characters in one pool. A term is found by one scan of the prompt
 * (keying as it goes) and compared in place, so no string is made for it unless the table has not
 * seen it yet. Slicing every term into a Map measured ~3x slower, mostly in cache misses.
 */
export class TermBatch {
  private count = 0;
  private readonly lengths = new Array<number>(LENGTH_EDGES.length).fill(0);
  private total = 0;
  private n = 0;
  private meta = new Int32Array(4096 * 2);
  private counts = new Int32Array(4096);
  private pool = new Uint16Array(32768);
  private used = 0;
  private tab = new Int32Array(8192 * 4).fill(-1);
  private mask = 8191;
  /** Terms of the current prompt (start, end, k0, k1), applied once the prompt proved ASCII. */
  private scratch = new Int32Array(4 * 1024);
  /** Weight of the prompt being counted. */
  private weight = 1;

  /** Counts a prompt `weight` times (the same prompt added that many times: repeated duplicates). */
  add(prompt: string, weight = 1): void {
    this.count += weight;
    this.weight = weight;
    this.lengths[lengthBin(prompt.length)]! += weight;
    const n = prompt.length;
    let k = 0;
    let start = -1;
    let lo = 0;
    let hi = 0;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = prompt.charCodeAt(i);
      const kind = kindOf(c);
      if (kind === TERM) {
        if (start < 0) {
          start = i;
          lo = 0;
          hi = 0;
          ascii = true;
        }
        const pos = i - start;
        if (c < 128) {
          if (pos < 5) lo = (lo << 6) | code6(LOWER[c]!);
          else if (pos < PACKED_MAX) hi = (hi << 6) | code6(LOWER[c]!);
        } else ascii = false;
        // terms() takes greedy pieces of at most 24.
        if (pos === 23) {
          k = this.push(prompt, k, start, i + 1, lo, hi, ascii);
          start = -1;
        }
      } else if (kind === HARD) {
        for (const t of terms(prompt)) {
          const [k0, k1] = keyOfTerm(t);
          this.bump(t, 0, t.length, k0, k1);
        }
        return;
      } else if (start >= 0) {
        // A last piece of one character does not match.
        if (i - start >= 2) k = this.push(prompt, k, start, i, lo, hi, ascii);
        start = -1;
      }
    }
    if (start >= 0 && n - start >= 2) k = this.push(prompt, k, start, n, lo, hi, ascii);
    const sc = this.scratch;
    for (let j = 0; j < k; j += 4) this.bump(prompt, sc[j]!, sc[j + 1]!, sc[j + 2]!, sc[j + 3]!);
  }

  /**
   * Same as add(prompt) for an ASCII prompt whose terms textStats already found in `source`: the
   * prompt itself, or the text before whitespace collapsing (same terms, other positions).
   */
  addFound(source: string, found: Int32Array, promptLength: number): void {
    this.count++;
    this.weight = 1;
    this.lengths[lengthBin(promptLength)]!++;
    for (let j = 0; j < found.length; j += 4) this.bump(source, found[j]!, found[j + 1]!, found[j + 2]!, found[j + 3]!);
  }

  private push(s: string, k: number, a: number, b: number, lo: number, hi: number, ascii: boolean): number {
    if (k + 4 > this.scratch.length) {
      const sc = new Int32Array(this.scratch.length * 2);
      sc.set(this.scratch);
      this.scratch = sc;
    }
    if (ascii) putTerm(this.scratch, k, s, a, b, lo, hi);
    else {
      this.scratch[k] = a;
      this.scratch[k + 1] = b;
      this.scratch[k + 2] = fnvLower(s, a, b);
      this.scratch[k + 3] = LONG;
    }
    return k + 4;
  }

  /** Counts the term s[a..b) (ASCII capitals compared lowercased) once for the current document. */
  private bump(s: string, a: number, b: number, k0: number, k1: number): void {
    const tab = this.tab;
    const wrap = (this.mask << 2) | 3;
    let slot = (keyHash(k0, k1) & this.mask) << 2;
    for (;;) {
      const idx = tab[slot + 2]!;
      if (idx === -1) {
        this.insert(s, a, b, k0, k1, slot);
        return;
      }
      if (tab[slot] === k0 && tab[slot + 1] === k1 && (k1 !== LONG || this.same(s, a, b, idx))) {
        // count only grows, so it tells one prompt from the next (each term once per prompt).
        if (tab[slot + 3] !== this.count) {
          tab[slot + 3] = this.count;
          this.counts[idx]! += this.weight;
          this.total += this.weight;
        }
        return;
      }
      slot = (slot + 4) & wrap;
    }
  }

  /** Whether term idx is s[a..b) (a hashed term: long or not ASCII). */
  private same(s: string, a: number, b: number, idx: number): boolean {
    const len = b - a;
    if (this.meta[idx * 2 + 1] !== len) return false;
    const o = this.meta[idx * 2]!;
    const pool = this.pool;
    for (let j = 0; j < len; j++) {
      if (pool[o + j] !== lowerOf(s.charCodeAt(a + j))) return false;
    }
    return true;
  }

  private insert(s: string, a: number, b: number, k0: number, k1: number, slot: number): void {
    const idx = this.n++;
    const len = b - a;
    if (idx >= this.counts.length) {
      const m = new Int32Array(this.meta.length * 2);
      m.set(this.meta);
      this.meta = m;
      const c = new Int32Array(this.counts.length * 2);
      c.set(this.counts);
      this.counts = c;
    }
    if (this.used + len > this.pool.length) {
      const p = new Uint16Array(this.pool.length * 2 + len);
      p.set(this.pool);
      this.pool = p;
    }
    this.meta[idx * 2] = this.used;
    this.meta[idx * 2 + 1] = len;
    for (let j = a; j < b; j++) {
      this.pool[this.used++] = lowerOf(s.charCodeAt(j));
    }
    this.counts[idx] = this.weight;
    this.total += this.weight;
    const tab = this.tab;
    tab[slot] = k0;
    tab[slot + 1] = k1;
    tab[slot + 2] = idx;
    tab[slot + 3] = this.count;
    if (this.n * 2 > this.mask + 1) this.rehash();
  }

  private rehash(): void {
    const old = this.tab;
    const cap = (this.mask + 1) * 2;
    const tab = new Int32Array(cap * 4).fill(-1);
    this.mask = cap - 1;
    const wrap = (this.mask << 2) | 3;
    for (let j = 0; j < old.length; j += 4) {
      if (old[j + 2] === -1) continue;
      let slot = (keyHash(old[j]!, old[j + 1]!) & this.mask) << 2;
      while (tab[slot + 2] !== -1) slot = (slot + 4) & wrap;
      tab[slot] = old[j]!;
      tab[slot + 1] = old[j + 1]!;
      tab[slot + 2] = old[j + 2]!;
      tab[slot + 3] = old[j + 3]!;
    }
    this.tab = tab;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** Distinct terms held. */
  get size(): number {
    return this.n;
  }

  part(): ProfilePart {
    // Terms lie in the pool in index order: add the separators and decode all of them at once.
    const units = new Uint16Array(this.used + Math.max(0, this.n - 1));
    const counts = new Uint32Array(this.n);
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (i > 0) units[w++] = 10;
      const o = this.meta[i * 2]!;
      const len = this.meta[i * 2 + 1]!;
      units.set(this.pool.subarray(o, o + len), w);
      w += len;
      counts[i] = this.counts[i]!;
    }
    const joined = Buffer.from(units.buffer, units.byteOffset, units.byteLength).toString('utf16le');
    return {count: this.count, lengths: this.lengths, total: this.total, terms: joined, counts};
  }
}

/**
 * Input bytes whose training prompts all go into profile.json. Above it the profile takes 1 in k
 * training records, chosen by content key (so the same records whatever the input order), with k
 * = ceil(input bytes / this): a 64 MB sample estimates the top terms' frequencies to well under a
 * percent, and counting terms over everything measured ~22% of a worker's CPU.
 */
export const PROFILE_FULL_BYTES = 64 << 20;

export function profileEvery(inputBytes: number, fullBytes = PROFILE_FULL_BYTES): number {
  return Math.max(1, Math.ceil(inputBytes / fullBytes));
}

/** Whether a training record (by the low 32 bits of its content key) is in the profile's sample. */
export function inProfileSample(keyLo: number, every: number): boolean {
  return every === 1 || keyLo % every === 0;
}

export class ProfileTotals {
  private count = 0;
  private readonly lengths = new Array<number>(LENGTH_EDGES.length).fill(0);
  private total = 0;
  private readonly termCounts = new Map<string, number>();

  merge(p: ProfilePart): void {
    if (p.count === 0) return;
    this.count += p.count;
    for (let i = 0; i < this.lengths.length; i++) this.lengths[i]! += p.lengths[i]!;
    this.total += p.total;
    if (p.counts.length === 0) return;
    const names = p.terms.split('\n');
    for (let i = 0; i < p.counts.length; i++) {
      const t = names[i]!;
      this.termCounts.set(t, (this.termCounts.get(t) ?? 0) + p.counts[i]!);
    }
  }

  /**
   * Takes back prompts counted by the workers whose records dedup removed afterwards, counted in a
   * TermBatch of their own (one table scan per prompt instead of a regex and Map updates).
   */
  subtract(p: ProfilePart): void {
    if (p.count === 0) return;
    this.count -= p.count;
    for (let i = 0; i < this.lengths.length; i++) this.lengths[i]! -= p.lengths[i]!;
    this.total -= p.total;
    if (p.counts.length === 0) return;
    const names = p.terms.split('\n');
    for (let i = 0; i < p.counts.length; i++) {
      const t = names[i]!;
      const c = this.termCounts.get(t)! - p.counts[i]!;
      if (c === 0) this.termCounts.delete(t);
      else this.termCounts.set(t, c);
    }
  }

  /** Same output as ReferenceProfileBuilder.build() over the same prompts. */
  build(topK = REFERENCE_TOP_TERMS, every = 1): ReferenceProfile {
    const profile = referenceProfile(this.count, this.lengths, this.termCounts, this.total, topK);
    return every > 1 ? {...profile, sample: {every}} : profile;
  }

}
