/**
 * Stage 1's input side: resolving files, globs and hf:// URLs, and streaming each file as batches
 * of raw records with their line numbers. Bytes are hashed as they are read (the manifest's
 * sha256), `.gz` is decompressed on the fly, and UTF-8 is decoded strictly so a binary or
 * mis-encoded file stops the run with its name and position instead of becoming U+FFFD noise.
 */
import {createHash} from 'node:crypto';
import {isUtf8} from 'node:buffer';
import {createReadStream, statSync, existsSync} from 'node:fs';
import {open} from 'node:fs/promises';
import path from 'node:path';
import {PassThrough, Readable, Transform, pipeline} from 'node:stream';
import {createGunzip} from 'node:zlib';
import {inputError} from '../errors.js';
import {isHfUrl} from '../hub/index.js';
import type {Block, RawItem} from './process.js';
import {toCanonical, ShapeError, suggestFieldMap, type FieldMap} from './records.js';

export type InputFormat = 'auto' | 'jsonl' | 'json' | 'csv' | 'text';

export interface InputFile {
  /** As shown to users and written to the manifest: project-relative path or hf:// URL. */
  name: string;
  /** Absolute local path (a cache path for hf://). */
  path: string;
}

export interface FileStats {
  sha256: string;
  bytes: number;
  records: number;
  format: Exclude<InputFormat, 'auto'>;
}

const GLOB_CHARS = /[*?[\]{}]/;

export async function resolveInputs(
  patterns: string[],
  o: {root: string; exclude?: string; download?: (url: string) => Promise<string>},
): Promise<InputFile[]> {
  if (patterns.length === 0) {
    throw inputError('No input files: data.inputs is empty and no --input was given.', {
      fix: 'Try this: llmops data prep --input "data/*.jsonl" (or set data.inputs in llmops.yaml).',
    });
  }
  const {glob} = await import('tinyglobby');
  const seen = new Set<string>();
  const out: InputFile[] = [];
  const add = (name: string, p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    out.push({name, path: p});
  };
  for (const pat of patterns) {
    if (isHfUrl(pat)) {
      if (!o.download) throw inputError(`${pat}: hf:// inputs need a cache directory.`);
      add(pat, await o.download(pat));
      continue;
    }
    const abs = path.resolve(o.root, pat);
    if (!GLOB_CHARS.test(pat)) {
      if (!existsSync(abs)) {
        throw inputError(`Input file not found: ${pat} (looked for ${abs}).`, {fix: 'Try this: check the path, or quote a glob such as "data/*.jsonl".', details: {file: pat}});
      }
      if (statSync(abs).isDirectory()) {
        throw inputError(`${pat} is a directory; expected a file or a glob.`, {fix: `Try this: --input "${path.join(pat, '*.jsonl')}"`, details: {file: pat}});
      }
      add(path.relative(o.root, abs) || abs, abs);
      continue;
    }
    const matches = (await glob(pat, {cwd: o.root, absolute: true, onlyFiles: true, dot: false})).sort();
    const kept = matches.filter((m) => !(o.exclude && (m === o.exclude || m.startsWith(o.exclude + path.sep))));
    if (kept.length === 0) {
      throw inputError(`No file matches ${pat} (relative to ${o.root}).`, {fix: 'Try this: check the glob with `ls`, and quote it so the shell does not expand it.', details: {file: pat}});
    }
    for (const m of kept) add(path.relative(o.root, m), m);
  }
  return out;
}

function baseExt(p: string): string {
  return path.extname(p.replace(/\.gz$/i, '')).toLowerCase();
}

export function formatFromName(p: string): Exclude<InputFormat, 'auto'> | undefined {
  switch (baseExt(p)) {
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.json':
      return 'json';
    case '.csv':
    case '.tsv':
      return 'csv';
    case '.txt':
    case '.text':
    case '.md':
      return 'text';
    default:
      return undefined;
  }
}

/** Decoded text chunks of a file, hashing and counting its raw bytes on the way. */
async function* textChunks(file: InputFile, stats: {hash: ReturnType<typeof createHash>; bytes: number}): AsyncGenerator<string> {
  const rs = createReadStream(file.path, {highWaterMark: 1 << 20});
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      stats.hash.update(chunk);
      stats.bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const gz = /\.gz$/i.test(file.path);
  const src: Readable = gz ? pipeline(rs, tap, createGunzip(), () => {}) : pipeline(rs, tap, new PassThrough(), () => {});
  const decoder = new TextDecoder('utf-8', {fatal: true});
  let decoded = 0;
  let lines = 1;
  let firstChunk = true;
  try {
    for await (const buf of src as AsyncIterable<Buffer>) {
      if (firstChunk) {
        firstChunk = false;
        const head = buf.subarray(0, 8192);
        if (head.includes(0)) {
          throw inputError(`${file.name}: looks like a binary file (NUL bytes near the start); expected UTF-8 text (JSON lines, a JSON array, CSV or plain text).`, {
            fix: 'Try this: point --input at the text data, or decompress it first (only .gz is read directly).',
            details: {file: file.name},
          });
        }
      }
      let s: string;
      try {
        s = decoder.decode(buf, {stream: true});
      } catch {
        throw notUtf8(file, decoded, lines);
      }
      decoded += buf.length;
      for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) lines++;
      yield s;
    }
    let tail: string;
    try {
      tail = decoder.decode();
    } catch {
      throw notUtf8(file, decoded, lines);
    }
    if (tail) yield tail;
  } catch (err) {
    throw gzipError(file, err);
  } finally {
    rs.destroy();
  }
}

function notUtf8(file: InputFile, offset: number, line: number, what = 'block') {
  return inputError(`${file.name}: not valid UTF-8 (in the ${what} from byte ${offset}, near line ${line}); expected UTF-8 text.`, {
    fix: 'Try this: convert the file, e.g. `iconv -f latin1 -t utf-8 IN > OUT`, and use the converted file.',
    details: {file: file.name, byte: offset, line},
  });
}

const BLOCK_BYTES = 1 << 20;

/**
 * A file as blocks of whole lines (about 1 MiB each), for JSON lines and line-per-document text.
 * Bytes are hashed as read and checked as UTF-8 here (isUtf8, no decoding: the worker decodes);
 * a block ends at a newline byte, which never falls inside a multi-byte character. Each block's
 * bytes are its own buffer, so the pool can transfer them to a worker.
 *
 * Plain files are read straight into each block's buffer behind the previous block's unfinished
 * line: reading stream chunks, joining them with that line and copying the result measured ~1 ms
 * a block on the main thread (three 1 MiB allocations, two copies), and most of its GC.
 */
async function* lineBlocks(
  file: InputFile,
  src: number,
  text: boolean,
  stats: {hash: ReturnType<typeof createHash>; bytes: number},
  seen: {first: number; count: number},
): AsyncGenerator<Block> {
  const gz = /\.gz$/i.test(file.path);
  let line = 1;
  let offset = 0;
  const make = (bytes: Buffer, owned: boolean): Block => {
    if (!isUtf8(bytes)) throw notUtf8At(file, bytes, offset, line);
    let firstLine = 0;
    let lines = 0;
    for (let a = 0; a < bytes.length; lines++) {
      const nl = bytes.indexOf(10, a);
      const b = nl === -1 ? bytes.length : nl;
      // The file's own record count: lines with anything but spaces, tabs and CRs (isBlankLine).
      let k = a;
      while (k < b && (bytes[k] === 32 || bytes[k] === 9 || bytes[k] === 13)) k++;
      if (k < b) {
        seen.count++;
        if (seen.first === 0) seen.first = firstLine = line + lines;
      }
      if (nl === -1) break;
      a = nl + 1;
    }
    let own: Uint8Array = bytes;
    if (!owned) {
      own = new Uint8Array(bytes.length);
      own.set(bytes);
    }
    const block: Block = {src, line, bytes: own, text, firstLine};
    line += lines;
    offset += bytes.length;
    return block;
  };
  // The first bytes: a binary file is refused, a byte order mark skipped (TextDecoder drops it too).
  const start = (buf: Buffer): Buffer => {
    if (buf.subarray(0, 8192).includes(0)) {
      throw inputError(`${file.name}: looks like a binary file (NUL bytes near the start); expected UTF-8 text (JSON lines, a JSON array, CSV or plain text).`, {
        fix: 'Try this: point --input at the text data, or decompress it first (only .gz is read directly).',
        details: {file: file.name},
      });
    }
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
      offset = 3;
      return buf.subarray(3);
    }
    return buf;
  };

  if (!gz) {
    const fh = await open(file.path, 'r');
    try {
      let carry: Buffer = Buffer.alloc(0);
      let first = true;
      for (;;) {
        // Not from Buffer's shared pool: the block's ArrayBuffer is transferred to a worker.
        const buf = Buffer.allocUnsafeSlow(carry.length + BLOCK_BYTES);
        carry.copy(buf, 0);
        const {bytesRead} = await fh.read(buf, carry.length, BLOCK_BYTES, null);
        if (bytesRead === 0) break;
        stats.hash.update(buf.subarray(carry.length, carry.length + bytesRead));
        stats.bytes += bytesRead;
        let data: Buffer = buf.subarray(0, carry.length + bytesRead);
        if (first) {
          first = false;
          data = start(data);
        }
        const cut = data.lastIndexOf(10);
        // The unfinished last line is copied out: the block's buffer goes to a worker.
        carry = Buffer.from(data.subarray(cut + 1));
        if (cut >= 0) yield make(data.subarray(0, cut + 1), true);
      }
      if (carry.length > 0) yield make(carry, false);
    } finally {
      await fh.close();
    }
    return;
  }

  const rs = createReadStream(file.path, {highWaterMark: BLOCK_BYTES});
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      stats.hash.update(chunk);
      stats.bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const input: AsyncIterable<Buffer> = pipeline(rs, tap, createGunzip(), () => {});
  let carry: Buffer | undefined;
  let firstChunk = true;
  try {
    for await (let buf of input) {
      if (firstChunk) {
        firstChunk = false;
        buf = start(buf);
      }
      const data: Buffer = carry && carry.length > 0 ? Buffer.concat([carry, buf]) : buf;
      const cut = data.lastIndexOf(10);
      if (cut === -1) {
        carry = data;
        continue;
      }
      yield make(data.subarray(0, cut + 1), false);
      carry = data.subarray(cut + 1);
    }
    if (carry && carry.length > 0) yield make(carry, false);
  } catch (err) {
    throw gzipError(file, err);
  } finally {
    rs.destroy();
  }
}

/** The exact line of the first invalid UTF-8 in a block that failed isUtf8. */
function notUtf8At(file: InputFile, bytes: Buffer, offset: number, line: number) {
  for (let a = 0; a < bytes.length; line++) {
    const nl = bytes.indexOf(10, a);
    const b = nl === -1 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(a, b))) return notUtf8(file, offset + a, line, 'line');
    a = b + 1;
  }
  return notUtf8(file, offset, line);
}

/** Elements of a top-level JSON array, as source text with their first line, without parsing. */
async function* jsonArrayElements(file: InputFile, chunks: AsyncIterable<string>): AsyncGenerator<[string, number]> {
  let line = 1;
  let started = false;
  let done = false;
  let depth = 0;
  let inStr = false;
  let esc = false;
  let pending = '';
  let elemLine = 0;
  let inElem = false;
  for await (const s of chunks) {
    let segStart = inElem ? 0 : -1;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 10) line++;
      if (done) continue;
      if (inStr) {
        if (esc) esc = false;
        else if (c === 92) esc = true;
        else if (c === 34) inStr = false;
        continue;
      }
      if (!started) {
        if (c === 91) started = true;
        else if (!(c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff)) {
          throw inputError(`${file.name}:${line}: expected a JSON array of records ("[" first), found "${s[i]}".`, {
            fix: 'Try this: use one JSON object per line with a .jsonl extension, or --format jsonl.',
            details: {file: file.name, line},
          });
        }
        continue;
      }
      if (!inElem) {
        if (c === 32 || c === 9 || c === 10 || c === 13 || c === 44) continue;
        if (c === 93 && depth === 0) {
          done = true;
          continue;
        }
        inElem = true;
        elemLine = line - (c === 10 ? 1 : 0);
        segStart = i;
        pending = '';
      }
      if (c === 34) inStr = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        if (depth === 0) {
          // The closing bracket of the array ends the last element.
          pending += s.slice(segStart, i);
          yield [pending.trim(), elemLine];
          inElem = false;
          done = true;
          continue;
        }
        depth--;
      } else if (c === 44 && depth === 0) {
        pending += s.slice(segStart, i);
        yield [pending.trim(), elemLine];
        inElem = false;
      }
    }
    if (inElem) pending += s.slice(segStart);
  }
  if (!started) return;
  if (!done) {
    if (inElem && pending.trim() !== '') yield [pending.trim(), elemLine];
    throw inputError(`${file.name}: the JSON array is not closed (file ends inside it, line ${line}).`, {
      fix: 'Try this: check that the file was not truncated (the last record and the closing "]").',
      details: {file: file.name, line},
    });
  }
}

async function sniff(file: InputFile): Promise<Exclude<InputFormat, 'auto'>> {
  const stats = {hash: createHash('sha256'), bytes: 0};
  for await (const s of textChunks(file, stats)) {
    const t = s.trimStart();
    if (t === '') continue;
    return t[0] === '[' ? 'json' : t[0] === '{' ? 'jsonl' : 'text';
  }
  return 'text';
}

export interface ReadOptions {
  format: InputFormat;
  textUnit: 'line' | 'file';
  fieldMap: FieldMap;
  batchItems: number;
  batchChars: number;
}

/**
 * Streams one file as batches of RawItems. `stats` is complete once the generator returns.
 * A CSV without a usable column and undecodable bytes are input errors; an empty file has 0 records (pipeline.ts decides).
 */
export async function* readFile(file: InputFile, src: number, o: ReadOptions, stats: FileStats): AsyncGenerator<RawItem[] | Block> {
  let format = o.format === 'auto' ? formatFromName(file.path) : o.format;
  if (format === undefined) format = await sniff(file);
  if (format === 'json' && o.format === 'auto') {
    // Many ".json" files are JSON lines: decide by the first character.
    const s = await sniff(file);
    if (s === 'jsonl') format = 'jsonl';
  }
  stats.format = format;
  const h = {hash: createHash('sha256'), bytes: 0};
  let batch: RawItem[] = [];
  let chars = 0;
  let count = 0;
  const push = (it: RawItem) => {
    if (count === 0) it.first = true;
    count++;
    batch.push(it);
    chars += it.raw.length;
  };
  const full = () => batch.length >= o.batchItems || chars >= o.batchChars;
  const take = () => {
    const b = batch;
    batch = [];
    chars = 0;
    return b;
  };

  if (format === 'jsonl' || (format === 'text' && o.textUnit === 'line')) {
    // Blocks of whole lines, split into records by the worker; `count` only tells empty from not.
    const seen = {first: 0, count: 0};
    yield* lineBlocks(file, src, format === 'text', h, seen);
    count = seen.count;
  } else if (format === 'text') {
    let all = '';
    for await (const s of textChunks(file, h)) all += s;
    if (all.trim() !== '') push({src, line: 1, raw: all, value: {text: all}});
  } else if (format === 'json') {
    for await (const [el, n] of jsonArrayElements(file, textChunks(file, h))) {
      push({src, line: n, raw: el});
      if (full()) yield take();
    }
  } else {
    const physical = {records: 0};
    yield* csvBatches(file, src, o, h, push, full, take, physical);
    count = physical.records;
  }
  if (batch.length > 0) yield take();
  stats.sha256 = h.hash.digest('hex');
  stats.bytes = h.bytes;
  stats.records = count;
}

/** The error when no input has a record (one empty input among others is a warning, pipeline.ts). */
export function emptyInputError(name: string, format: string) {
  return inputError(`${name}: empty input (no records); expected at least one ${format === 'csv' ? 'CSV row after the header' : format === 'json' ? 'element in the JSON array' : 'non-blank line'}.`, {
    fix: 'Try this: check the file, or remove it from data.inputs / --input.',
    details: {file: name},
  });
}

/**
 * Counts a CSV file's records as the file itself has them, independently of the parser: record
 * ends (LF or CRLF) outside double quotes, blank lines not counted. The reconciliation in card.md
 * compares this count with what the run accounted for.
 */
async function* countCsvRecords(chunks: AsyncIterable<string>, out: {records: number}): AsyncGenerator<string> {
  let inQuote = false;
  let content = false;
  let first = true;
  for await (const s of chunks) {
    for (let i = first && s.charCodeAt(0) === 0xfeff ? 1 : 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        inQuote = !inQuote;
        content = true;
      } else if (c === 10 && !inQuote) {
        if (content) out.records++;
        content = false;
      } else if (c !== 13 || inQuote) content = true;
    }
    first = false;
    yield s;
  }
  if (content) out.records++;
}

async function* csvBatches(
  file: InputFile,
  src: number,
  o: ReadOptions,
  h: {hash: ReturnType<typeof createHash>; bytes: number},
  push: (it: RawItem) => void,
  full: () => boolean,
  take: () => RawItem[],
  physical: {records: number},
): AsyncGenerator<RawItem[]> {
  const {parse} = await import('csv-parse');
  const tsv = baseExt(file.path) === '.tsv';
  const counted = {records: 0};
  // Rows as arrays, the header handled here: a row with more or fewer fields than the header is
  // rejected with its line (columns: true would trim or pad it silently). Both LF and CRLF end a
  // row, so a file that mixes them loses none (csv-parse otherwise takes the first row's ending).
  const parser = Readable.from(countCsvRecords(textChunks(file, h), counted)).pipe(
    parse({bom: true, relax_column_count: true, skip_empty_lines: true, info: true, raw: true, delimiter: tsv ? '\t' : ',', record_delimiter: ['\r\n', '\n']}),
  );
  let header: string[] | undefined;
  try {
    for await (const rec of parser as AsyncIterable<{record: string[]; info: {lines: number}; raw: string}>) {
      if (!header) {
        header = rec.record;
        checkCsvColumns(file, header, o.fieldMap);
        continue;
      }
      const raw = rec.raw.replace(/\r?\n$/, '');
      if (rec.record.length !== header.length) {
        push({src, line: rec.info.lines, raw, error: {rule: 'csv_field_count', reason: `the row has ${rec.record.length} fields, the header ${header.length} (${header.join(', ')}); a quote may be missing`}});
      } else {
        const value: Record<string, string> = {};
        for (let k = 0; k < header.length; k++) value[header[k]!] = rec.record[k]!;
        push({src, line: rec.info.lines, raw, value});
      }
      if (full()) yield take();
    }
  } catch (err) {
    const e = err as {code?: string; lines?: number; message: string};
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw inputError(`${file.name}:${e.lines ?? '?'}: malformed CSV (${e.message}).`, {
        fix: 'Try this: check the quoting on that line (fields with commas or newlines must be in double quotes).',
        details: {file: file.name, line: e.lines},
      });
    }
    throw err;
  }
  physical.records = Math.max(0, counted.records - 1);
}

function checkCsvColumns(file: InputFile, columns: string[], fm: FieldMap): void {
  const probe = Object.fromEntries(columns.map((c) => [c, c === 'messages' || c === 'conversations' || c === fm.messages || c === fm.conversations ? '[]' : 'x']));
  try {
    toCanonical(probe, fm);
  } catch (err) {
    if (err instanceof ShapeError && (err.rule === 'unknown_shape' || err.rule === 'missing_output')) {
      const need = fm.text ? `"${fm.text}" (data.field_map.text)` : '"text", or "instruction" and "output", or "messages", or "conversations", or prompt+completion/response, question+answer';
      throw inputError(`${file.name}: the CSV header has no usable column: expected ${need}; found columns: ${columns.join(', ') || '(none)'}.`, {
        fix: `Try this: rename the columns, or map them in llmops.yaml: data.field_map: ${suggestFieldMap(columns)}.`,
        details: {file: file.name, columns},
      });
    }
    // Other shape errors (role order of an empty probe conversation) are fine at header level.
  }
}

/** A zlib failure becomes an input error naming the file; anything else passes through. */
function gzipError(file: {name: string}, err: unknown): unknown {
  const code = (err as {code?: string}).code;
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
    return inputError(`${file.name}: not a valid gzip file (${(err as Error).message}).`, {
      fix: 'Try this: check the file with `gzip -t`, or drop the .gz extension if it is not compressed.',
      details: {file: file.name},
    });
  }
  return err;
}
