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

const lowerAscii = (c: number) => (c >= 65 && c <= 90 ? c + 32 : c);

/**
 * Per-batch document frequencies of terms. Terms are found by one scan of the prompt and looked
 * up in an open-addressing table by a hash of their lowercased characters, compared in place: a
 * term's string is only made the first time the batch sees it. (Slicing and lowercasing every
 * term into a Map measured ~3x slower.)
 */
export class TermBatch {
  private count = 0;
  private readonly lengths = new Array<number>(LENGTH_EDGES.length).fill(0);
  private total = 0;
  private readonly names: string[] = [];
  private counts = new Uint32Array(1024);
  /** Per term: the last document that counted it (document frequency, not occurrences). */
  private last = new Uint32Array(1024);
  private slotHash = new Int32Array(4096);
  private slotIdx = new Int32Array(4096).fill(-1);
  private mask = 4095;

  add(prompt: string): void {
    this.count++;
    this.lengths[lengthBin(prompt.length)]!++;
    const n = prompt.length;
    for (let i = 0; i < n; i++) {
      if (prompt.charCodeAt(i) >= 128) {
        for (const t of terms(prompt)) this.bump(t, 0, t.length, false);
        return;
      }
    }
    let start = -1;
    for (let i = 0; i <= n; i++) {
      const c = i < n ? prompt.charCodeAt(i) : 32;
      if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) {
        if (start < 0) start = i;
        continue;
      }
      if (start < 0) continue;
      // terms() takes greedy pieces of at most 24; a last piece of one character does not match.
      for (let a = start; i - a >= 2; a += 24) this.bump(prompt, a, Math.min(i, a + 24), true);
      start = -1;
    }
  }

  /** Counts the term s[a..b) (ASCII letters compared lowercased) once for the current document; `lower`: s needs lowercasing. */
  private bump(s: string, a: number, b: number, lower: boolean): void {
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ lowerAscii(s.charCodeAt(i)), 0x01000193);
    h |= 0;
    let slot = (h ^ (h >>> 15)) & this.mask;
    let idx: number;
    for (;;) {
      idx = this.slotIdx[slot]!;
      if (idx === -1) {
        idx = this.insert(lower ? s.slice(a, b).toLowerCase() : s, h, slot);
        break;
      }
      if (this.slotHash[slot] === h && this.same(this.names[idx]!, s, a, b)) break;
      slot = (slot + 1) & this.mask;
    }
    if (this.last[idx] !== this.count) {
      this.last[idx] = this.count;
      this.counts[idx]!++;
      this.total++;
    }
  }

  private same(name: string, s: string, a: number, b: number): boolean {
    if (name.length !== b - a) return false;
    for (let i = a; i < b; i++) if (name.charCodeAt(i - a) !== lowerAscii(s.charCodeAt(i))) return false;
    return true;
  }

  private insert(name: string, h: number, slot: number): number {
    const idx = this.names.length;
    this.names.push(name);
    if (idx === this.counts.length) {
      const c = new Uint32Array(idx * 2);
      c.set(this.counts);
      this.counts = c;
      const l = new Uint32Array(idx * 2);
      l.set(this.last);
      this.last = l;
    }
    this.slotHash[slot] = h;
    this.slotIdx[slot] = idx;
    if (this.names.length * 2 > this.slotIdx.length) this.rehash();
    return idx;
  }

  private rehash(): void {
    const cap = this.slotIdx.length * 2;
    const oldHash = this.slotHash;
    const oldIdx = this.slotIdx;
    this.slotHash = new Int32Array(cap);
    this.slotIdx = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let j = 0; j < oldIdx.length; j++) {
      if (oldIdx[j] === -1) continue;
      const h = oldHash[j]!;
      let slot = (h ^ (h >>> 15)) & this.mask;
      while (this.slotIdx[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slotHash[slot] = h;
      this.slotIdx[slot] = oldIdx[j]!;
    }
  }

  get empty(): boolean {
    return this.count === 0;
  }

  part(): ProfilePart {
    return {count: this.count, lengths: this.lengths, total: this.total, terms: this.names.join('\n'), counts: this.counts.slice(0, this.names.length)};
  }
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
    const names = p.terms.split('\n');
    for (let i = 0; i < names.length; i++) {
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
