/**
 * Stages 1-4 and the per-record half of 5-7, for one batch of raw items: parse, canonicalise,
 * normalise, quality, PII, content key, shingles and LSH bands, split, token count, serialised
 * output line. Pure and synchronous, so the same code runs in a worker thread or in-process and
 * results do not depend on which (tests compare both).
 */
import {hash as cryptoHash} from 'node:crypto';
import {readFileSync, existsSync} from 'node:fs';
import path from 'node:path';
import {inputError} from '../errors.js';
import {promptOf} from '../profile/profile.js';
import {unitFromHex} from './hash.js';
import {detectLanguage} from './language.js';
import {bandHashes, shinglesOf, signature} from './minhash.js';
import {textStats, type TextStats} from './textstats.js';
import {normalizeKnown, normalizeText, type NormalizeOptions} from './normalize.js';
import {scanPii, secretHint, type PiiCounts, type PiiType} from '../util/pii.js';
import {checkQuality, type QualityOptions} from './quality.js';
import {checkSft} from './sft-rules.js';
import {ChatTemplateError, modelEncoder, type RecordEncoder} from './model-tokens.js';
import {inProfileSample, type ProfilePart, TermBatch} from './profile-terms.js';
import {hasMappedField, mappedFields, ShapeError, suggestFieldMap, toCanonical, type Canonical, type FieldMap, type Message} from './records.js';

export interface RawItem {
  src: number;
  line: number;
  /** The source text of the record (a JSON line, a CSV row, a text line or file). */
  raw: string;
  /** Already-parsed value (CSV rows, text documents); absent for JSON, parsed in the worker. */
  value?: unknown;
  /** First record of its file: checked against the field mapping. */
  first?: boolean;
  /** Already known to be unreadable (a CSV row with the wrong number of fields): rejected as is. */
  error?: {rule: string; reason: string};
}

/** A blank line: nothing but spaces, tabs and carriage returns (the reader counts records the same way). */
export function isBlankLine(l: string): boolean {
  for (let i = 0; i < l.length; i++) {
    const c = l.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/**
 * A block of whole lines of a JSON-lines or line-per-document text file, as read (UTF-8 checked,
 * BOM removed). The worker splits, numbers and parses it: sending one byte block instead of a
 * message object per record halved the cost of the worker hand-over (structured clone).
 */
export interface Block {
  src: number;
  /** Line number of the block's first line. */
  line: number;
  bytes: Uint8Array;
  /** Plain text, one document per line (else JSON lines). */
  text: boolean;
  /** Line number of the file's first record when it is in this block, else 0. */
  firstLine: number;
}

type Stage = 'parse' | 'normalize' | 'quality' | 'pii' | 'tokens';

export const FORMATS = ['text', 'alpaca', 'sharegpt', 'openai', 'prompt_completion'] as const;
/** Record kinds in flags bits 6-7: 0 when the record could not be read. */
export const KINDS = ['unknown', 'text', 'chat'] as const;

/**
 * The results of one batch, packed into a few typed arrays and one byte buffer so the hand-over
 * back to the main thread is a transfer, not a clone of one object per record. Per record i:
 * flags bit 0 kept (else rejected), bits 1-2 split, bits 3-5 format index (FORMATS), bits 6-7 kind
 * (KINDS, rejected records too); its output
 * line (kept: the canonical JSON; rejected: the rejected.jsonl line) is out[end[i-1]..end[i]),
 * newline included; tags[i] is the id (kept) or "stage:rule" (rejected).
 */
export interface PackedBatch {
  n: number;
  src: number;
  flags: Uint8Array;
  line: Uint32Array;
  keyHi: Uint32Array;
  keyLo: Uint32Array;
  tokens: Uint32Array;
  end: Uint32Array;
  out: Uint8Array;
  tags: string[];
  pii: Array<[number, PiiCounts]>;
  /** Near-dup only: shingles of record i are sh[shEnd[i-1]..shEnd[i]), its band hashes bands[i*B..]. */
  sh?: Uint32Array;
  shEnd?: Uint32Array;
  bands?: Uint32Array;
  /** Drift-profile term counts, when the processor flushed its table with this batch. */
  profile?: ProfilePart;
  /** Records cut to the context (context_policy truncate). */
  truncated?: number;
}

/** The buffers of a batch to transfer rather than copy. */
export function transferList(b: PackedBatch): ArrayBuffer[] {
  const list = [b.flags, b.line, b.keyHi, b.keyLo, b.tokens, b.end, b.out, b.sh, b.shEnd, b.bands, b.profile?.counts]
    .filter((x): x is NonNullable<typeof x> => x !== undefined)
    .map((x) => x.buffer as ArrayBuffer);
  return [...new Set(list)];
}

/** Splits a block into records: blank lines skipped, "\r\n" accepted, lines numbered. */
export function blockItems(b: Block): RawItem[] {
  const s = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength).toString('utf8');
  const items: RawItem[] = [];
  let n = b.line;
  for (let start = 0; start < s.length; n++) {
    const i = s.indexOf('\n', start);
    const stop = i === -1 ? s.length : i;
    const e = stop > start && s.charCodeAt(stop - 1) === 13 ? stop - 1 : stop;
    const l = s.slice(start, e);
    if (!isBlankLine(l)) {
      const it: RawItem = b.text ? {src: b.src, line: n, raw: l, value: {text: l}} : {src: b.src, line: n, raw: l};
      if (n === b.firstLine) it.first = true;
      items.push(it);
    }
    if (i === -1) break;
    start = i + 1;
  }
  return items;
}

class Packer {
  private n = 0;
  private readonly flags: Uint8Array;
  private readonly line: Uint32Array;
  private readonly keyHi: Uint32Array;
  private readonly keyLo: Uint32Array;
  private readonly tokens: Uint32Array;
  private readonly end: Uint32Array;
  private out: Buffer;
  private pos = 0;
  private readonly tags: string[] = [];
  private readonly pii: Array<[number, PiiCounts]> = [];
  private sh?: Uint32Array;
  private shPos = 0;
  private readonly shEnd?: Uint32Array;
  private readonly bands?: Uint32Array;

  constructor(
    private readonly cap: number,
    bytes: number,
    private readonly nBands: number,
  ) {
    this.flags = new Uint8Array(cap);
    this.line = new Uint32Array(cap);
    this.keyHi = new Uint32Array(cap);
    this.keyLo = new Uint32Array(cap);
    this.tokens = new Uint32Array(cap);
    this.end = new Uint32Array(cap);
    this.out = Buffer.allocUnsafeSlow(Math.max(4096, Math.ceil(bytes * 1.1) + cap));
    if (nBands > 0) {
      this.sh = new Uint32Array(Math.max(1024, bytes >> 2));
      this.shEnd = new Uint32Array(cap);
      this.bands = new Uint32Array(cap * nBands);
    }
  }

  private text(s: string): void {
    if (this.pos + s.length * 3 + 1 > this.out.length) {
      const b = Buffer.allocUnsafeSlow(Math.max(this.out.length * 2, this.pos + s.length * 3 + 1));
      this.out.copy(b, 0, 0, this.pos);
      this.out = b;
    }
    this.pos += this.out.write(s, this.pos);
    this.out[this.pos++] = 10;
  }

  rejected(line: number, kind: number, tag: string, json: string, pii?: PiiCounts): void {
    const i = this.n++;
    this.flags[i] = kind << 6;
    this.line[i] = line;
    this.tags.push(tag);
    if (pii) this.pii.push([i, pii]);
    this.text(json);
    this.end[i] = this.pos;
    if (this.shEnd) this.shEnd[i] = this.shPos;
  }

  kept(line: number, split: number, format: number, key: Buffer, tokens: number, id: string, json: string, pii?: PiiCounts): number {
    const i = this.n++;
    this.flags[i] = 1 | (split << 1) | (format << 3) | ((format === 0 ? 1 : 2) << 6);
    this.line[i] = line;
    this.keyHi[i] = key.readUInt32BE(0);
    this.keyLo[i] = key.readUInt32BE(4);
    this.tokens[i] = tokens;
    this.tags.push(id);
    if (pii) this.pii.push([i, pii]);
    this.text(json);
    this.end[i] = this.pos;
    if (this.shEnd) this.shEnd[i] = this.shPos;
    return i;
  }

  near(i: number, sh: Uint32Array, bands: Uint32Array): void {
    if (this.shPos + sh.length > this.sh!.length) {
      const b = new Uint32Array(Math.max(this.sh!.length * 2, this.shPos + sh.length));
      b.set(this.sh!.subarray(0, this.shPos));
      this.sh = b;
    }
    this.sh!.set(sh, this.shPos);
    this.shPos += sh.length;
    this.shEnd![i] = this.shPos;
    this.bands!.set(bands, i * this.nBands);
  }

  finish(src: number): PackedBatch {
    const b: PackedBatch = {
      n: this.n, src, flags: this.flags, line: this.line, keyHi: this.keyHi, keyLo: this.keyLo, tokens: this.tokens, end: this.end,
      out: new Uint8Array(this.out.buffer, this.out.byteOffset, this.pos), tags: this.tags, pii: this.pii,
    };
    if (this.sh) {
      b.sh = this.sh.subarray(0, this.shPos);
      b.shEnd = this.shEnd;
      b.bands = this.bands;
    }
    return b;
  }
}

export interface ProcessOptions {
  files: string[];
  field_map: FieldMap;
  normalize: NormalizeOptions;
  quality: QualityOptions;
  pii: {mode: 'redact' | 'drop' | 'keep'; types: PiiType[]};
  near: boolean;
  ngram: number;
  num_perm: number;
  bands: number;
  rows: number;
  dedup_seed: number;
  split: {train: number; val: number; test: number; seed: number};
  tokenizer: string;
  /** Records longer than this many tokens follow context_policy. */
  context_length: number;
  context_policy: 'keep' | 'truncate' | 'drop';
  /** Flush the term table at this many distinct terms (default TERM_FLUSH; tests set it low). */
  term_flush?: number;
  /** Drift-profile sample: 1 in this many training records by content key (profileEvery). */
  profile_every?: number;
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Byte-level count as the trainer renders records: <|bos|>text<|eos|>, <|role|>\ncontent<|end|>\n. */
const byteTokens: RecordEncoder = {
  count: (c) => (c.kind === 'text' ? utf8(c.text) + 2 : c.messages.reduce((n, m) => n + utf8(m.content) + 4, 0)),
  // Whole characters only: a cut inside a multi-byte character would leave U+FFFD.
  truncateText: (text, max) => Buffer.from(text, 'utf8').subarray(0, Math.max(0, max)).toString('utf8').replace(/\uFFFD+$/, ''),
};

/**
 * The output line of a kept record, byte for byte what JSON.stringify gives. When the last
 * textStats pass over the record's text found nothing JSON escapes but newlines (jsonPlain), the
 * strings are written out directly: on these texts Node 20's JSON.stringify measured 2.5x slower
 * than JSON.parse of the whole input line, and ~7x slower than this.
 */
export function keptJson(c: Canonical, id: string, jsonPlain: boolean): string {
  // Tool calls and tool-turn fields take the plain path (their JSON was not scanned).
  if (jsonPlain && c.kind === 'chat' && c.messages.some((m) => m.tool_calls || m.tool_call_id !== undefined || m.name !== undefined)) jsonPlain = false;
  if (!jsonPlain) return c.kind === 'text' ? JSON.stringify({id, text: c.text}) : JSON.stringify({id, messages: c.messages satisfies Message[]});
  if (c.kind === 'text') return `{"id":${JSON.stringify(id)},"text":"${c.text.replaceAll('\n', '\\n')}"}`;
  let out = `{"id":${JSON.stringify(id)},"messages":[`;
  for (let i = 0; i < c.messages.length; i++) {
    const m = c.messages[i]!;
    out += `${i > 0 ? ',' : ''}{"role":"${m.role}","content":"${m.content.replaceAll('\n', '\\n')}"}`;
  }
  return `${out}]}`;
}

export function render(c: Canonical): string {
  if (c.kind === 'text') return `<|bos|>${c.text}<|eos|>`;
  return c.messages.map((m) => `<|${m.role}|>\n${m.content}<|end|>\n`).join('');
}

/**
 * Distinct terms a processor's table may hold before it is flushed to the main thread with a
 * batch: bounds a worker's table at ~16 MB (~60 bytes a term) on corpora with huge vocabularies.
 */
export const TERM_FLUSH = 1 << 18;

export class BatchProcessor {
  private readonly piiTypes: Set<PiiType>;
  private encoder: RecordEncoder = byteTokens;
  /** Records cut to the context in this batch (context_policy truncate). */
  private truncated = 0;
  /**
   * Drift-profile term counts of the training prompts, kept across batches: a table per batch
   * re-inserted every distinct term each time and made the main thread split and merge ~15k
   * term strings per batch (~10% of all CPU with both). Flushed at TERM_FLUSH terms and at the end.
   */
  private terms = new TermBatch();
  /** Drift-profile sample (1 = every training record) and whether textStats looks for terms. */
  private readonly profileEvery: number;
  private readonly termsInStats: boolean;

  constructor(private readonly o: ProcessOptions) {
    this.piiTypes = new Set(o.pii.types);
    this.profileEvery = o.profile_every ?? 1;
    // With a sample, most records are not in it: their terms are not looked for in the stats pass.
    this.termsInStats = this.profileEvery === 1;
  }

  async init(): Promise<void> {
    // Loaded once per processor (one per worker thread): ~tens of ms for a 2-7 MB tokenizer.json.
    if (this.o.tokenizer !== 'byte') this.encoder = modelEncoder(this.o.tokenizer);
  }

  /** Processes a batch of raw items, or a block of lines, into packed results (input order kept). */
  process(batch: RawItem[] | Block): PackedBatch {
    const items = Array.isArray(batch) ? batch : blockItems(batch);
    let bytes = 0;
    for (const it of items) bytes += it.raw.length;
    const p = new Packer(items.length, bytes, this.o.near ? this.o.bands : 0);
    this.truncated = 0;
    for (const it of items) this.one(it, p);
    const b = p.finish(Array.isArray(batch) ? (items[0]?.src ?? 0) : batch.src);
    b.truncated = this.truncated;
    if (this.terms.size >= (this.o.term_flush ?? TERM_FLUSH)) b.profile = this.flushTerms();
    return b;
  }

  /** The term counts so far (for the main thread to add up), starting a new table. */
  flushTerms(): ProfilePart | undefined {
    if (this.terms.empty) return undefined;
    const part = this.terms.part();
    this.terms = new TermBatch();
    return part;
  }

  /** Raw text as it may appear in rejected.jsonl: redacted unless PII mode is keep. */
  private safeRaw(raw: string): string {
    if (this.o.pii.mode === 'keep') return raw;
    return scanPii(raw, this.piiTypes, true).text;
  }

  private reject(p: Packer, it: RawItem, stage: Stage, rule: string, reason: string, extra: {score?: number; limit?: number} = {}, raw?: string, pii?: PiiCounts): void {
    // Key order as before the packing: source, line, stage, rule, reason, score?, limit?, raw.
    const json = JSON.stringify({source: this.o.files[it.src], line: it.line, stage, rule, reason,
      ...(extra.score !== undefined ? {score: extra.score} : {}), ...(extra.limit !== undefined ? {limit: extra.limit} : {}), raw: raw ?? this.safeRaw(it.raw)});
    p.rejected(it.line, this.kind, `${stage}:${rule}`, json, pii);
  }

  /** Kind of the record in hand (KINDS index), 0 until it is read. */
  private kind = 0;

  private one(it: RawItem, p: Packer): void {
    const o = this.o;
    this.kind = 0;
    if (it.error) return this.reject(p, it, 'parse', it.error.rule, it.error.reason);
    let value = it.value;
    if (value === undefined) {
      try {
        value = JSON.parse(it.raw);
      } catch (err) {
        return this.reject(p, it, 'parse', 'invalid_json', `malformed JSON: ${(err as Error).message}`);
      }
    }
    if (it.first && value && typeof value === 'object' && !Array.isArray(value)) this.checkMapping(it, value as Record<string, unknown>);
    let c: Canonical;
    try {
      c = toCanonical(value, o.field_map);
    } catch (err) {
      if (err instanceof ShapeError) return this.reject(p, it, 'parse', err.rule, err.message);
      throw err;
    }
    this.kind = c.kind === 'text' ? 1 : 2;

    // Stage 2: normalise every text field. A text is scanned once before normalising: that pass
    // tells whether normalising changes it, and when only the gaps between words change its word
    // statistics still hold (most records), so the text is not scanned again.
    let stats: TextStats;
    // The text the drift-profile term positions (stats.terms) refer to.
    let termSource = '';
    let body: string;
    if (c.kind === 'text') {
      const raw = c.text;
      stats = textStats(raw, this.termsInStats);
      const r = normalizeKnown(raw, o.normalize, stats);
      c.text = r.text;
      if (!r.wordsKept) stats = textStats(c.text, this.termsInStats);
      termSource = r.wordsKept ? raw : c.text;
      body = c.text;
    } else {
      for (const m of c.messages) m.content = normalizeText(m.content, o.normalize);
      body = c.messages.map((m) => m.content).join('\n');
      stats = textStats(body);
    }

    // Stage 3: PII.
    let pii: PiiCounts | undefined;
    // Every detector needs a digit, "@", ":" or a secret's marker somewhere in the text (pii.ts):
    // without any, the per-turn scans are skipped (most prose).
    const maybePii = stats.digits > 0 || stats.atOrColon || (this.piiTypes.has('secret') && secretHint(body));
    if (this.piiTypes.size > 0 && maybePii) {
      const redact = o.pii.mode === 'redact';
      let found = 0;
      const counts: PiiCounts = {};
      const scan = (s: string): string => {
        const r = scanPii(s, this.piiTypes, redact || o.pii.mode === 'drop');
        found += r.found;
        for (const [k, v] of Object.entries(r.counts)) counts[k as PiiType] = (counts[k as PiiType] ?? 0) + v;
        return r.text;
      };
      let redactedBody = '';
      if (c.kind === 'text') {
        const t = scan(c.text);
        if (redact) c.text = t;
        redactedBody = t;
      } else {
        const parts: string[] = [];
        for (const m of c.messages) {
          const t = scan(m.content);
          if (redact) m.content = t;
          parts.push(t);
        }
        redactedBody = parts.join('\n');
      }
      if (found > 0) {
        pii = counts;
        if (redact) {
          stats = textStats(redactedBody, c.kind === 'text' && this.termsInStats);
          termSource = redactedBody;
          body = redactedBody;
        }
        if (o.pii.mode === 'drop') {
          const types = Object.keys(counts).sort().join(', ');
          return this.reject(p, it, 'pii', 'pii', `contains ${types}`, {}, redactedBody, counts);
        }
      }
    }

    // Stage 4: quality, on the redacted text so placeholders never trip a rule and a record with
    // personal data is redacted and kept, not dropped. Text records get the Gopher/C4 rules, chat and
    // instruction records the fine-tuning rules (sft-rules.ts).
    if (o.quality.enabled) {
      if (c.kind === 'text') {
        const q = checkQuality(body, o.quality, stats);
        if (q) return this.reject(p, it, 'quality', q.rule, `${q.rule}: ${q.score} (limit ${q.limit})`, {score: q.score, limit: q.limit}, undefined, pii);
      } else {
        const q = checkSft(c.messages, o.quality.rules);
        if (q) return this.reject(p, it, 'quality', q.rule, q.reason, {score: q.score, limit: q.limit}, undefined, pii);
      }
      if (o.quality.language) {
        const lang = detectLanguage(body);
        if (lang.lang !== o.quality.language) {
          return this.reject(p, it, 'quality', 'language', `language ${lang.lang} (confidence ${lang.score}), expected ${o.quality.language}`, {score: lang.score}, undefined, pii);
        }
      }
    }

    // Stage 7 (per record): tokens as the model will see them, and the context policy.
    let tokens: number;
    try {
      tokens = this.encoder.count(c);
    } catch (err) {
      if (err instanceof ChatTemplateError) return this.reject(p, it, 'tokens', 'chat_template', `the model's chat template refuses this conversation: ${err.message}`, {}, undefined, pii);
      throw err;
    }
    if (tokens > o.context_length && o.context_policy !== 'keep') {
      const cut = o.context_policy === 'truncate' ? this.truncate(c, tokens) : undefined;
      if (cut === undefined) {
        return this.reject(p, it, 'tokens', 'over_context', `${tokens} tokens, longer than data.context_length ${o.context_length} (context_policy ${o.context_policy})`, {score: tokens, limit: o.context_length}, undefined, pii);
      }
      tokens = cut;
      this.truncated++;
      stats = textStats(c.kind === 'text' ? c.text : c.messages.map((m) => m.content).join('\n'));
    }

    const content = c.kind === 'text' ? c.text : c.messages.map((m) => `${m.role}\u0000${m.content}${m.tool_calls ? `\u0000${JSON.stringify(m.tool_calls)}` : ''}`).join('\u0001');
    // One-shot crypto.hash: a Hash object per record measured ~6 us of the per-record cost.
    const digest = cryptoHash('sha256', (c.kind === 'text' ? 't\u0000' : 'c\u0000') + content, 'buffer') as unknown as Buffer;
    const key = digest.toString('hex', 0, 16);
    const id = c.id ?? key.slice(0, 16);
    const u = unitFromHex(key, o.split.seed);
    const split = u < o.split.train ? 0 : u < o.split.train + o.split.val ? 1 : 2;
    const json = keptJson(c, id, stats.jsonPlain);
    const i = p.kept(it.line, split, FORMATS.indexOf(c.format), digest, tokens, id, json, pii);
    if (split === 0 && inProfileSample(digest.readUInt32BE(4), this.profileEvery)) {
      // For text the prompt is the body the last textStats call scanned (redacted or not).
      if (c.kind === 'text' && stats.terms) this.terms.addFound(termSource, stats.terms, c.text.length);
      else this.terms.add(promptOf(c.kind === 'text' ? {text: c.text} : {messages: c.messages}));
    }
    if (o.near) {
      const sh = shinglesOf(stats.hashes, o.ngram, false);
      p.near(i, sh, bandHashes(signature(sh, o.num_perm, o.dedup_seed), o.bands, o.rows));
    }
  }

  /**
   * Cuts a record to the context: a chat loses whole exchanges from the end (it still ends with an
   * assistant turn), a text its last tokens. Returns the new count, or undefined when nothing fits.
   */
  private truncate(c: Canonical, tokens: number): number | undefined {
    const max = this.o.context_length;
    if (c.kind === 'text') {
      c.text = this.encoder.truncateText(c.text, max - 2);
      const n = this.encoder.count(c);
      return n <= max && c.text !== '' ? n : undefined;
    }
    let n = tokens;
    while (n > max) {
      // The last assistant turn before the final exchange (a user turn and what followed it).
      let end = c.messages.length - 1;
      while (end > 0 && c.messages[end]!.role !== 'user') end--;
      end--;
      while (end > 0 && c.messages[end]!.role !== 'assistant') end--;
      if (end <= 0 || c.messages[end]!.role !== 'assistant') return undefined;
      c.messages = c.messages.slice(0, end + 1);
      n = this.encoder.count(c);
    }
    return n;
  }

  private checkMapping(it: RawItem, obj: Record<string, unknown>): void {
    const mapped = mappedFields(this.o.field_map);
    if (mapped.length === 0 || hasMappedField(obj, this.o.field_map)) return;
    // A file in the standard layout does not need the mapping (a glob may mix both).
    try {
      toCanonical(obj, {});
      return;
    } catch {
      /* neither mapped nor standard: the mapping names fields this file does not have */
    }
    const file = this.o.files[it.src] ?? '?';
    const want = mapped.map(([k, v]) => `${k} -> "${v}"`).join(', ');
    throw inputError(
      `${file}:${it.line}: data.field_map (${want}) names fields this file does not have; its records have: ${Object.keys(obj).slice(0, 12).join(', ') || '(none)'}.`,
      {fix: `Try this: data.field_map: ${suggestFieldMap(Object.keys(obj))} (this file's fields), or remove the mapping.`, details: {file, line: it.line}},
    );
  }
}
