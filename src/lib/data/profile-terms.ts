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

let bounds = new Int32Array(1024);

/** Calls `each` with every term of `text` as `terms(text)` would list them. */
export function forEachTerm(text: string, each: (t: string) => void): void {
  let k = 0;
  let start = -1;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 32;
    if (c >= 128) {
      for (const t of terms(text)) each(t);
      return;
    }
    const alnum = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
    if (alnum) {
      if (start < 0) start = i;
      continue;
    }
    if (start < 0) continue;
    // The regex takes greedy pieces of at most 24; a last piece of one character does not match.
    for (let a = start; i - a >= 2; a += 24) {
      if (k + 2 > bounds.length) {
        const b = new Int32Array(bounds.length * 2);
        b.set(bounds);
        bounds = b;
      }
      bounds[k++] = a;
      bounds[k++] = Math.min(i, a + 24);
    }
    start = -1;
  }
  if (k === 0) return;
  const lower = text.toLowerCase();
  for (let j = 0; j < k; j += 2) each(lower.slice(bounds[j]!, bounds[j + 1]!));
}

export class TermBatch {
  private count = 0;
  private readonly lengths = new Array<number>(LENGTH_EDGES.length).fill(0);
  private total = 0;
  private readonly index = new Map<string, number>();
  private readonly names: string[] = [];
  private counts: number[] = [];
  /** Per term: the last document that counted it (document frequency, not occurrences). */
  private last: number[] = [];
  private readonly bump = (t: string) => {
    let i = this.index.get(t);
    if (i === undefined) {
      i = this.names.length;
      this.index.set(t, i);
      this.names.push(t);
      this.counts.push(0);
      this.last.push(0);
    }
    if (this.last[i] !== this.count) {
      this.last[i] = this.count;
      this.counts[i]!++;
      this.total++;
    }
  };

  add(prompt: string): void {
    this.count++;
    this.lengths[lengthBin(prompt.length)]!++;
    forEachTerm(prompt, this.bump);
  }

  get empty(): boolean {
    return this.count === 0;
  }

  part(): ProfilePart {
    return {count: this.count, lengths: this.lengths, total: this.total, terms: this.names.join('\n'), counts: Uint32Array.from(this.counts)};
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
