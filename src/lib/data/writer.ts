/** Buffered JSONL writer that hashes what it writes (sha256 for the manifest and the dataset id). */
import {createHash} from 'node:crypto';
import {closeSync, openSync, writeSync} from 'node:fs';

const FLUSH_AT = 1 << 20;

export class JsonlWriter {
  private fd: number;
  private parts: string[] = [];
  private pending = 0;
  private readonly hash = createHash('sha256');
  records = 0;
  bytes = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  line(s: string): void {
    this.parts.push(s, '\n');
    this.pending += s.length + 1;
    this.records++;
    if (this.pending >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const buf = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.pending = 0;
    this.hash.update(buf);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.bytes += buf.length;
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
