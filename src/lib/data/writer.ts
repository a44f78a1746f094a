/**
 * Buffered JSONL writer that hashes what it writes (sha256 for the manifest and the dataset id).
 * Lines come either as strings or as byte ranges already encoded by a worker (copied, not
 * re-encoded: the main thread only copies, hashes and writes).
 */
import {createHash} from 'node:crypto';
import {closeSync, openSync, writeSync} from 'node:fs';

const BUF = 1 << 20;

export class JsonlWriter {
  private fd: number;
  private buf = Buffer.allocUnsafeSlow(BUF);
  private used = 0;
  private readonly hash = createHash('sha256');
  records = 0;
  bytes = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  line(s: string): void {
    const b = Buffer.from(s + '\n', 'utf8');
    this.encoded(b, 0, b.length);
  }

  /** One line already encoded, its newline included: src[start..end). */
  encoded(src: Uint8Array, start: number, end: number): void {
    this.records++;
    const n = end - start;
    if (this.used + n > this.buf.length) this.flush();
    if (n > this.buf.length) {
      this.put(src.subarray(start, end));
      return;
    }
    this.buf.set(src.subarray(start, end), this.used);
    this.used += n;
  }

  flush(): void {
    if (this.used === 0) return;
    this.put(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private put(b: Uint8Array): void {
    this.hash.update(b);
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
    this.bytes += b.length;
  }

  /** Flushes, closes, and returns the file's sha256. */
  close(): string {
    this.flush();
    closeSync(this.fd);
    return this.hash.digest('hex');
  }

  /** Closes without a digest (error paths). */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
