/**
 * Data prep's dedup, on the main thread in input order: exact duplicates by content key, near
 * duplicates by MinHash LSH candidates confirmed with the exact Jaccard similarity of their shingle
 * sets (kept on disk in a spill file). The first record of a group is kept; later ones point at it.
 */
import type {PrepParams} from './manifest.js';
import {jaccard, sortedSet} from './minhash.js';
import type {PackedBatch} from './process.js';
import {ShingleSpill} from './spill.js';
import {U64Map} from './u64map.js';

/** Record i of a batch: a duplicate of the kept record `of`, or kept as number `idx`. */
export type DedupVerdict = {dup: 'exact' | 'near'; of: number; similarity: number} | {dup: null; idx: number};

export class Deduper {
  /** Ids (tags) of the kept records, by kept index: what a duplicate line names. */
  readonly keptIds: string[] = [];
  exactDups = 0;
  nearDups = 0;
  private readonly exact = new U64Map(1 << 16);
  private readonly lsh = new U64Map(1 << 16);
  private readonly spill: ShingleSpill | undefined;

  constructor(private readonly params: PrepParams['dedup'], spillFile: string) {
    this.spill = params.near ? new ShingleSpill(spillFile) : undefined;
  }

  /** Decides record i of batch b, and remembers it when it is kept. */
  check(b: PackedBatch, i: number): DedupVerdict {
    const hi = b.keyHi[i]!;
    const lo = b.keyLo[i]!;
    if (this.params.exact) {
      const prev = this.exact.get(hi, lo);
      if (prev !== undefined) {
        this.exactDups++;
        return {dup: 'exact', of: prev, similarity: 1};
      }
    }
    const sh = this.spill && b.sh ? b.sh.subarray(i === 0 ? 0 : b.shEnd![i - 1]!, b.shEnd![i]!) : undefined;
    if (sh) {
      const near = this.nearest(b, i, sh);
      if (near) {
        this.nearDups++;
        if (this.params.exact) this.exact.setIfAbsent(hi, lo, near.of);
        return {dup: 'near', ...near};
      }
    }
    const idx = this.keptIds.length;
    this.keptIds.push(b.tags[i]!);
    if (this.params.exact) this.exact.setIfAbsent(hi, lo, idx);
    if (this.spill && sh) {
      this.spill.add(sh);
      for (let k = 0; k < this.params.bands; k++) this.lsh.setIfAbsent(k, b.bands![i * this.params.bands + k]!, idx);
    }
    return {dup: null, idx};
  }

  /** The most similar kept record at or above the threshold among the LSH candidates (lowest index on a tie). */
  private nearest(b: PackedBatch, i: number, sh: Uint32Array): {of: number; similarity: number} | undefined {
    const nBands = this.params.bands;
    let best = -1;
    let bestSim = 0;
    let set: Uint32Array | undefined;
    const tried = new Set<number>();
    for (let k = 0; k < nBands; k++) {
      const cand = this.lsh.get(k, b.bands![i * nBands + k]!);
      if (cand === undefined || tried.has(cand)) continue;
      tried.add(cand);
      set ??= sortedSet(sh);
      const sim = jaccard(set, sortedSet(this.spill!.get(cand)));
      if (sim >= this.params.threshold && (sim > bestSim || (sim === bestSim && cand < best))) {
        best = cand;
        bestSim = sim;
      }
    }
    return best >= 0 ? {of: best, similarity: bestSim} : undefined;
  }

  close(): void {
    this.spill?.close();
  }
}
