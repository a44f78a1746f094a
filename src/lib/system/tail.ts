/**
 * Reading files that another process is appending to (events.jsonl, run.log) by byte offset, so a
 * reader that restarts resumes exactly where it stopped: no event is read twice or skipped.
 */
import {closeSync, existsSync, fstatSync, openSync, readSync} from 'node:fs';

/** At most this much is read per call, so a huge backlog is ingested in bounded batches. */
export const MAX_READ_BYTES = 8 * 1024 * 1024;

/** Whole lines appended after `offset` (a trailing partial line waits for its newline). */
export function readLinesFrom(file: string, offset: number, maxBytes = MAX_READ_BYTES): {lines: string[]; offset: number} {
  const buf = readBytesFrom(file, offset, maxBytes);
  return buf ? wholeLines(buf, offset, maxBytes) : {lines: [], offset};
}

/** Text appended after `offset` (cut at the last whole UTF-8 character). */
export function readTextFrom(file: string, offset: number, maxBytes = MAX_READ_BYTES): {text: string; offset: number} {
  const buf = readBytesFrom(file, offset, maxBytes);
  return buf ? wholeText(buf, offset) : {text: '', offset};
}

/**
 * Whole lines from bytes read at `offset` (from a local file, over ssh or kubectl): the partial
 * last line waits for the next read.
 */
export function wholeLines(buf: Buffer, offset: number, maxBytes: number): {lines: string[]; offset: number} {
  if (buf.length === 0) return {lines: [], offset};
  const lastNl = buf.lastIndexOf(0x0a);
  if (lastNl < 0) {
    // One line longer than maxBytes: hand it over whole rather than stall forever.
    if (buf.length >= maxBytes) return {lines: [buf.toString('utf8')], offset: offset + buf.length};
    return {lines: [], offset};
  }
  return {lines: buf.subarray(0, lastNl).toString('utf8').split('\n'), offset: offset + lastNl + 1};
}

/** Text from bytes read at `offset`, never splitting a multi-byte UTF-8 character. */
export function wholeText(buf: Buffer, offset: number): {text: string; offset: number} {
  let end = buf.length;
  // Back up over the continuation bytes of an unfinished character.
  let i = end - 1;
  while (i >= 0 && i >= end - 4 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = buf[i]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return {text: buf.subarray(0, end).toString('utf8'), offset: offset + end};
}

function readBytesFrom(file: string, offset: number, maxBytes: number): Buffer | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return undefined;
    const len = Math.min(size - offset, maxBytes);
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The last `n` lines of a file. Reads only its end: 64 KiB first, a window twice as large until it
 * holds `n` whole lines or the whole file.
 */
export function lastLines(file: string, n = 20): string[] {
  if (!existsSync(file) || n <= 0) return [];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    for (let window = 64 * 1024; ; window *= 2) {
      const start = Math.max(0, size - window);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split('\n');
      if (lines.at(-1) === '') lines.pop();
      if (start > 0) lines.shift(); // probably cut mid-line
      if (lines.length >= n || start === 0) return lines.slice(-n);
    }
  } finally {
    closeSync(fd);
  }
}
