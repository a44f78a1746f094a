/**
 * The drift reference profile (profile.json) built the way ReferenceProfileBuilder (monitor/profile.ts)
 * builds it, split in two so the term counting happens in the workers:
 *
 * - TermBatch (worker): counts, for one batch, the training prompts, their length bins and the
 *   documents each term occurs in. Term extraction on ASCII prompts is a hand-written scan with the
 *   same result as `terms()` (lowercase runs of letters/digits cut into pieces of 2..24); other
 *   prompts go through `terms()` itself.
 * - ProfileTotals (main thread): sums the batches and subtracts the prompts of the records that dedup
 *   removed afterwards (the workers cannot know those), then builds the same JSON as the builder.
 *
 * Counting on the main thread measured ~2.3 s per 30 MB (a third of the whole run, on the thread
 * that orders and writes); test/data/profile-terms.test.ts checks the result equals the builder's.
 */
import {LENGTH_EDGES, PROFILE_VERSION, REFERENCE_TOP_TERMS, lengthBin, terms, type ReferenceProfile} from '../monitor/profile.js';

export interface ProfilePart {
  count: number;
  lengths: number[];
  total: number;
  /** Terms joined by "\n" (terms are letters and digits only). */
  terms: string;
  counts: Uint32Array;
}

/**
 * Per UTF-16 code unit: the lowercase code of an ASCII letter or digit, 0 for other ASCII, NON_ASCII
 * above 127 (such prompts take the regex path). One table load per character in the scan.
 */
const NON_ASCII = 0xffff;
const CLASS = new Uint16Array(65536).fill(NON_ASCII);
for (let c = 0; c < 128; c++) {
  const lower = c >= 65 && c <= 90 ? c + 32 : c;
  CLASS[c] = (lower >= 97 && lower <= 122) || (lower >= 48 && lower <= 57) ? lower : 0;
}

/**
 * Per-batch document frequencies of terms, in flat typed arrays: an open-addressing table of
 * (hash, term index) pairs, per term (offset, length, count, last document) and the lowercased
 * characters in one pool. A term is found by one scan of the prompt (hashing as it goes) and
 * compared in place, so no string is made for it unless the batch has not seen it yet. Slicing
 * every term into a Map measured ~3x slower, mostly in cache misses.
 */
export class TermBatch {
  private count = 0;
  private readonly lengths = new Array<number>(LENGTH_EDGES.length).fill(0);
  private total = 0;
  private n = 0;
  private meta = new Int32Array(4096 * 4);
  private pool = new Uint16Array(32768);
  private used = 0;
  private tab = new Int32Array(8192 * 2).fill(-1);
  private mask = 8191;
  /** Terms of the current prompt (start, end, hash), applied once the prompt proved ASCII. */
  private scratch = new Int32Array(3 * 1024);

  add(prompt: string): void {
    this.count++;
    this.lengths[lengthBin(prompt.length)]!++;
    const n = prompt.length;
    let k = 0;
    let start = -1;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const l = CLASS[prompt.charCodeAt(i)]!;
      if (l === NON_ASCII) {
        for (const t of terms(prompt)) this.bump(t, 0, t.length, hashOf(t));
        return;
      }
      if (l !== 0) {
        if (start < 0) {
          start = i;
          h = 0x811c9dc5;
        }
        h = Math.imul(h ^ l, 0x01000193);
        // terms() takes greedy pieces of at most 24.
        if (i + 1 - start === 24) {
          k = this.push(k, start, i + 1, h);
          start = -1;
        }
      } else if (start >= 0) {
        // A last piece of one character does not match.
        if (i - start >= 2) k = this.push(k, start, i, h);
        start = -1;
      }
    }
    if (start >= 0 && n - start >= 2) k = this.push(k, start, n, h);
    for (let j = 0; j < k; j += 3) this.bump(prompt, this.scratch[j]!, this.scratch[j + 1]!, this.scratch[j + 2]!);
  }

  /**
   * Same as add(prompt) for an ASCII prompt whose terms textStats already found in `source`: the
   * prompt itself, or the text before whitespace collapsing (same terms, other positions).
   */
  addFound(source: string, found: Int32Array, promptLength: number): void {
    this.count++;
    this.lengths[lengthBin(promptLength)]!++;
    for (let j = 0; j < found.length; j += 3) this.bump(source, found[j]!, found[j + 1]!, found[j + 2]!);
  }

  private push(k: number, a: number, b: number, h: number): number {
    if (k + 3 > this.scratch.length) {
      const sc = new Int32Array(this.scratch.length * 2);
      sc.set(this.scratch);
      this.scratch = sc;
    }
    this.scratch[k] = a;
    this.scratch[k + 1] = b;
    this.scratch[k + 2] = h;
    return k + 3;
  }

  /** Counts the term s[a..b) (ASCII capitals compared lowercased) once for the current document. */
  private bump(s: string, a: number, b: number, hash: number): void {
    const h = (hash ^ (hash >>> 16)) | 0;
    const tab = this.tab;
    const meta = this.meta;
    const pool = this.pool;
    const len = b - a;
    let slot = h & this.mask;
    let idx: number;
    for (;;) {
      idx = tab[slot * 2 + 1]!;
      if (idx === -1) {
        idx = this.insert(s, a, b, h, slot);
        break;
      }
      if (tab[slot * 2] === h && meta[idx * 4 + 1] === len) {
        const o = meta[idx * 4]!;
        let j = 0;
        for (; j < len; j++) {
          const c = s.charCodeAt(a + j);
          if (pool[o + j] !== (c < 128 ? CLASS[c] : c)) break;
        }
        if (j === len) break;
      }
      slot = (slot + 1) & this.mask;
    }
    const m = this.meta;
    if (m[idx * 4 + 3] !== this.count) {
      m[idx * 4 + 3] = this.count;
      m[idx * 4 + 2]!++;
      this.total++;
    }
  }

  private insert(s: string, a: number, b: number, h: number, slot: number): number {
    const idx = this.n++;
    const len = b - a;
    if (idx * 4 + 4 > this.meta.length) {
      const m = new Int32Array(this.meta.length * 2);
      m.set(this.meta);
      this.meta = m;
    }
    if (this.used + len > this.pool.length) {
      const p = new Uint16Array(this.pool.length * 2 + len);
      p.set(this.pool);
      this.pool = p;
    }
    this.meta[idx * 4] = this.used;
    this.meta[idx * 4 + 1] = len;
    for (let j = a; j < b; j++) {
      let c = s.charCodeAt(j);
      if (c >= 65 && c <= 90) c += 32;
      this.pool[this.used++] = c;
    }
    this.tab[slot * 2] = h;
    this.tab[slot * 2 + 1] = idx;
    if (this.n * 2 > this.mask + 1) this.rehash();
    return idx;
  }

  private rehash(): void {
    const old = this.tab;
    const cap = (this.mask + 1) * 2;
    this.tab = new Int32Array(cap * 2).fill(-1);
    this.mask = cap - 1;
    for (let j = 0; j < old.length; j += 2) {
      if (old[j + 1] === -1) continue;
      let slot = old[j]! & this.mask;
      while (this.tab[slot * 2 + 1] !== -1) slot = (slot + 1) & this.mask;
      this.tab[slot * 2] = old[j]!;
      this.tab[slot * 2 + 1] = old[j + 1]!;
    }
  }

  get empty(): boolean {
    return this.count === 0;
  }

  part(): ProfilePart {
    // Terms lie in the pool in index order: add the separators and decode all of them at once.
    const units = new Uint16Array(this.used + Math.max(0, this.n - 1));
    const counts = new Uint32Array(this.n);
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (i > 0) units[w++] = 10;
      const o = this.meta[i * 4]!;
      units.set(this.pool.subarray(o, o + this.meta[i * 4 + 1]!), w);
      w += this.meta[i * 4 + 1]!;
      counts[i] = this.meta[i * 4 + 2]!;
    }
    const joined = Buffer.from(units.buffer, units.byteOffset, units.byteLength).toString('utf16le');
    return {count: this.count, lengths: this.lengths, total: this.total, terms: joined, counts};
  }

}

/** The scan's hash of an already lowercased term. */
function hashOf(t: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < t.length; i++) {
    let c = t.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
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

  /** Takes back one prompt counted by a worker (its record was a duplicate). */
  subtract(prompt: string): void {
    this.count--;
    this.lengths[lengthBin(prompt.length)]!--;
    for (const t of new Set(terms(prompt))) {
      const c = this.termCounts.get(t)! - 1;
      if (c === 0) this.termCounts.delete(t);
      else this.termCounts.set(t, c);
      this.total--;
    }
  }

  /** Same output as ReferenceProfileBuilder.build() over the same prompts. */
  build(topK = REFERENCE_TOP_TERMS): ReferenceProfile {
    const top = [...this.termCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topK);
    return {
      version: PROFILE_VERSION,
      count: this.count,
      length: {edges: [...LENGTH_EDGES], counts: [...this.lengths]},
      terms: Object.fromEntries(top),
      total_terms: this.total,
    };
  }
}
