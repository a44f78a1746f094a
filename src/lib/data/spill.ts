/**
 * Shingle sets of kept documents, spilled to a file in the output's temporary folder, read back only
 * for LSH candidates. Verifying candidates against the true Jaccard needs the earlier document's
 * shingles; keeping them all in memory would cost ~4 bytes per word of the corpus, the spill costs
 * 12 bytes per document in memory and one small random read per candidate pair.
 */
import {closeSync, openSync, readSync, writeSync} from 'node:fs';

const BUF = 4 << 20;

export class ShingleSpill {
  private readonly fd: number;
  private offsets = new Float64Array(1 << 16);
  private lengths = new Uint32Array(1 << 16);
  private count = 0;
  private fileBytes = 0;
  private buf = Buffer.allocUnsafe(BUF);
  private bufUsed = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w+');
  }

  get memoryBytes(): number {
    return this.offsets.byteLength + this.lengths.byteLength + this.buf.byteLength;
  }

  /** Appends the shingles of document `this.count` and returns its index. */
  add(sh: Uint32Array): number {
    if (this.count === this.offsets.length) {
      const o = new Float64Array(this.offsets.length * 2);
      o.set(this.offsets);
      this.offsets = o;
      const l = new Uint32Array(this.lengths.length * 2);
      l.set(this.lengths);
      this.lengths = l;
    }
    const bytes = sh.byteLength;
    if (this.bufUsed + bytes > this.buf.length) this.flush();
    this.offsets[this.count] = this.fileBytes + this.bufUsed;
    this.lengths[this.count] = sh.length;
    if (bytes > this.buf.length) {
      this.writeAll(Buffer.from(sh.buffer, sh.byteOffset, bytes));
    } else {
      Buffer.from(sh.buffer, sh.byteOffset, bytes).copy(this.buf, this.bufUsed);
      this.bufUsed += bytes;
    }
    return this.count++;
  }

  get(i: number): Uint32Array {
    const off = this.offsets[i]!;
    const len = this.lengths[i]!;
    const out = new Uint32Array(len);
    const target = Buffer.from(out.buffer);
    if (off >= this.fileBytes) {
      this.buf.copy(target, 0, off - this.fileBytes, off - this.fileBytes + len * 4);
    } else {
      let got = 0;
      while (got < len * 4) {
        const n = readSync(this.fd, target, got, len * 4 - got, off + got);
        if (n === 0) break;
        got += n;
      }
    }
    return out;
  }

  private flush(): void {
    if (this.bufUsed === 0) return;
    this.writeAll(this.buf.subarray(0, this.bufUsed));
    this.bufUsed = 0;
  }

  private writeAll(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off, this.fileBytes + off);
    this.fileBytes += b.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
