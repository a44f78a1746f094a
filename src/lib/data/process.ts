/**
 * Stages 1-4 and the per-record half of 5-7, for one batch of raw items: parse, canonicalise,
 * normalise, quality, PII, content key, shingles and LSH bands, split, token count, serialised
 * output line. Pure and synchronous, so the same code runs in a worker thread or in-process and
 * results do not depend on which (tests compare both).
 */
import {createHash} from 'node:crypto';
import {readFileSync, existsSync} from 'node:fs';
import path from 'node:path';
import {inputError} from '../errors.js';
import {promptOf} from '../monitor/profile.js';
import {unitFromHex} from './hash.js';
import {detectLanguage} from './language.js';
import {bandHashes, shinglesOf, signature} from './minhash.js';
import {textStats} from './textstats.js';
import {normalizeText, type NormalizeOptions} from './normalize.js';
import {scanPii, type PiiCounts, type PiiType} from './pii.js';
import {checkQuality, type QualityOptions} from './quality.js';
import {hasMappedField, mappedFields, ShapeError, toCanonical, type Canonical, type FieldMap, type Message} from './records.js';

export interface RawItem {
  src: number;
  line: number;
  /** The source text of the record (a JSON line, a CSV row, a text line or file). */
  raw: string;
  /** Already-parsed value (CSV rows, text documents); absent for JSON, parsed in the worker. */
  value?: unknown;
  /** First record of its file: checked against the field mapping. */
  first?: boolean;
}

export interface KeptItem {
  t: 1;
  src: number;
  line: number;
  key: string;
  id: string;
  json: string;
  kind: 'text' | 'chat';
  format: string;
  split: 0 | 1 | 2;
  tokens: number;
  /** Prompt text for the drift profile (train split only). */
  prompt?: string;
  sh?: Uint32Array;
  bands?: Uint32Array;
  pii?: PiiCounts;
}

export interface RejectedItem {
  t: 0;
  src: number;
  line: number;
  stage: 'parse' | 'normalize' | 'quality' | 'pii';
  rule: string;
  reason: string;
  score?: number;
  limit?: number;
  raw: string;
  pii?: PiiCounts;
}

export type ProcessedItem = KeptItem | RejectedItem;

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
}

type Encoder = (c: Canonical) => number;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Byte-level count as the trainer renders records: <|bos|>text<|eos|>, <|role|>\ncontent<|end|>\n. */
const byteTokens: Encoder = (c) =>
  c.kind === 'text' ? utf8(c.text) + 2 : c.messages.reduce((n, m) => n + utf8(m.content) + 4, 0);

export function render(c: Canonical): string {
  if (c.kind === 'text') return `<|bos|>${c.text}<|eos|>`;
  return c.messages.map((m) => `<|${m.role}|>\n${m.content}<|end|>\n`).join('');
}

async function loadTokenizer(file: string): Promise<Encoder> {
  const {Tokenizer} = await import('@huggingface/tokenizers');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const cfg = existsSync(cfgFile) ? JSON.parse(readFileSync(cfgFile, 'utf8')) : {};
  const tok = new Tokenizer(json, cfg);
  return (c) => tok.encode(render(c), {add_special_tokens: false}).ids.length;
}

export class BatchProcessor {
  private readonly piiTypes: Set<PiiType>;
  private encoder: Encoder = byteTokens;

  constructor(private readonly o: ProcessOptions) {
    this.piiTypes = new Set(o.pii.types);
  }

  async init(): Promise<void> {
    if (this.o.tokenizer !== 'byte') this.encoder = await loadTokenizer(this.o.tokenizer);
  }

  process(items: RawItem[]): ProcessedItem[] {
    return items.map((it) => this.one(it));
  }

  /** Raw text as it may appear in rejected.jsonl: redacted unless PII mode is keep. */
  private safeRaw(raw: string): string {
    if (this.o.pii.mode === 'keep') return raw;
    return scanPii(raw, this.piiTypes, true).text;
  }

  private reject(it: RawItem, stage: RejectedItem['stage'], rule: string, reason: string, extra: Partial<RejectedItem> = {}): RejectedItem {
    return {t: 0, src: it.src, line: it.line, stage, rule, reason, raw: this.safeRaw(it.raw), ...extra};
  }

  private one(it: RawItem): ProcessedItem {
    const o = this.o;
    let value = it.value;
    if (value === undefined) {
      try {
        value = JSON.parse(it.raw);
      } catch (err) {
        return this.reject(it, 'parse', 'invalid_json', `malformed JSON: ${(err as Error).message}`);
      }
    }
    if (it.first && value && typeof value === 'object' && !Array.isArray(value)) this.checkMapping(it, value as Record<string, unknown>);
    let c: Canonical;
    try {
      c = toCanonical(value, o.field_map);
    } catch (err) {
      if (err instanceof ShapeError) return this.reject(it, 'parse', err.rule, err.message);
      throw err;
    }

    // Stage 2: normalise every text field.
    if (c.kind === 'text') c.text = normalizeText(c.text, o.normalize);
    else {
      for (const m of c.messages) m.content = normalizeText(m.content, o.normalize);
      const empty = c.messages.findIndex((m) => m.content === '');
      if (empty >= 0) return this.reject(it, 'normalize', 'empty_turn', `turn ${empty + 1} (${c.messages[empty]!.role}) is empty after normalisation`);
    }
    const body = c.kind === 'text' ? c.text : c.messages.map((m) => m.content).join('\n');

    // Stage 3: quality.
    let stats = textStats(body);
    const q = checkQuality(body, o.quality, stats);
    if (q) return this.reject(it, 'quality', q.rule, `${q.rule}: ${q.score} (limit ${q.limit})`, {score: q.score, limit: q.limit});
    if (o.quality.enabled && o.quality.language) {
      const lang = detectLanguage(body);
      if (lang.lang !== o.quality.language) {
        return this.reject(it, 'quality', 'language', `language ${lang.lang} (confidence ${lang.score}), expected ${o.quality.language}`, {
          score: lang.score,
        });
      }
    }

    // Stage 4: PII.
    let pii: PiiCounts | undefined;
    if (this.piiTypes.size > 0) {
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
        if (redact) stats = textStats(redactedBody);
        if (o.pii.mode === 'drop') {
          const types = Object.keys(counts).sort().join(', ');
          return {t: 0, src: it.src, line: it.line, stage: 'pii', rule: 'pii', reason: `contains ${types}`, raw: redactedBody, pii: counts};
        }
      }
    }

    const content = c.kind === 'text' ? c.text : c.messages.map((m) => `${m.role}\u0000${m.content}`).join('\u0001');
    const key = createHash('sha256').update(c.kind === 'text' ? 't\u0000' : 'c\u0000').update(content).digest('hex').slice(0, 32);
    const id = c.id ?? key.slice(0, 16);
    const u = unitFromHex(key, o.split.seed);
    const split: 0 | 1 | 2 = u < o.split.train ? 0 : u < o.split.train + o.split.val ? 1 : 2;
    const json = c.kind === 'text' ? JSON.stringify({id, text: c.text}) : JSON.stringify({id, messages: c.messages satisfies Message[]});
    const out: KeptItem = {t: 1, src: it.src, line: it.line, key, id, json, kind: c.kind, format: c.format, split, tokens: this.encoder(c)};
    if (pii) out.pii = pii;
    if (split === 0) out.prompt = promptOf(c.kind === 'text' ? {text: c.text} : {messages: c.messages});
    if (o.near) {
      const sh = shinglesOf(stats.hashes, o.ngram);
      out.sh = sh;
      out.bands = bandHashes(signature(sh, o.num_perm, o.dedup_seed), o.bands, o.rows);
    }
    return out;
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
      {fix: 'Try this: set data.field_map to the field names of this file (e.g. {text: body}), or remove the mapping.', details: {file, line: it.line}},
    );
  }
}
