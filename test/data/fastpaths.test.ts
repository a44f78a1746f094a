// The speed-ups in data prep (ASCII fast paths, pre-checks, bounds, worker-side profile counting)
// must not change a single output: each is checked here against the straightforward version.
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {ReferenceProfileBuilder, promptOf} from '../../src/lib/profile/profile.js';
import {normalizeKnown, normalizeText, type NormalizeOptions} from '../../src/lib/data/normalize.js';
import {BatchProcessor, keptJson, type ProcessOptions} from '../../src/lib/data/process.js';
import {stripHtml} from '../../src/lib/data/html.js';
import {ProfileTotals, TermBatch} from '../../src/lib/data/profile-terms.js';
import {checkQuality} from '../../src/lib/data/quality.js';
import {maxWindowChars, ngramCountBound, textStats, topNgram, topNgramFraction} from '../../src/lib/data/textstats.js';
import {prepareData} from '../../src/lib/data/pipeline.js';
import {optimalLsh} from '../../src/lib/data/minhash.js';
import {prng as rng} from '../../src/lib/util/prng.js';

const dataConfig = (data: Record<string, unknown>) => configSchema.parse({data}).data;

// The regex pipeline normalizeText had before its fast paths (the reference).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]/g;
const HSPACE = /[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g;
function referenceNormalize(s: string, o: NormalizeOptions): string {
  if (o.strip_html) s = stripHtml(s);
  if (o.nfc) s = s.normalize('NFC');
  if (s.includes('\r')) s = s.replace(/\r\n?/g, '\n');
  if (o.strip_control) s = s.replace(CONTROL, '');
  if (o.collapse_whitespace) {
    s = s.replace(HSPACE, ' ');
    if (s.includes('\n')) s = s.replace(/ ?\n ?/g, '\n').replace(/\n{3,}/g, '\n\n');
    s = s.trim();
  }
  return s;
}

describe('data prep fast paths give the same results as the plain versions', () => {
  it('normalisation: ASCII fast paths equal the regex pipeline on random spacing, markup and non-ASCII', () => {
    const r = rng(1);
    const pieces = ['word', 'Ab', ' ', ' ', ' ', '\n', '\n', '\t', '\r\n', '<b>', '&amp;', 'é', 'e\u0301', '\u200b', '\u00a0', '.', '\u0007'];
    const options: NormalizeOptions[] = [
      {nfc: true, strip_control: true, collapse_whitespace: true, strip_html: false},
      {nfc: true, strip_control: true, collapse_whitespace: true, strip_html: true},
      {nfc: false, strip_control: false, collapse_whitespace: false, strip_html: false},
      {nfc: true, strip_control: true, collapse_whitespace: false, strip_html: true},
    ];
    let changed = 0;
    for (let k = 0; k < 4000; k++) {
      let s = '';
      const n = Math.floor(r() * 30);
      // Half the strings are ASCII only (the fast paths), half draw from everything.
      const max = k % 2 ? pieces.length : 8;
      for (let i = 0; i < n; i++) s += pieces[Math.floor(r() * max)]!;
      for (const o of options) {
        const got = normalizeText(s, o);
        expect(got, JSON.stringify({s, o})).toBe(referenceNormalize(s, o));
        if (got !== s) changed++;
      }
    }
    expect(changed).toBeGreaterThan(1000);
  });

  it('normalisation from the textStats pass: same text, and word statistics reused only when they still hold', () => {
    const r = rng(11);
    const pieces = ['word', 'Ab', '42', ' ', ' ', ' ', '\n', '\n', '\n', '\t', '\r\n', '<b>', '&amp;', 'é', 'e\u0301', '\u200b', '\u00a0', '.', '\u0007', '"', '\\'];
    const options: NormalizeOptions[] = [
      {nfc: true, strip_control: true, collapse_whitespace: true, strip_html: false},
      {nfc: true, strip_control: true, collapse_whitespace: true, strip_html: true},
      {nfc: false, strip_control: false, collapse_whitespace: false, strip_html: false},
    ];
    const termStrings = (s: string, t?: Int32Array) =>
      t ? Array.from({length: t.length / 4}, (_, j) => `${s.slice(t[4 * j]!, t[4 * j + 1]!).toLowerCase()}:${t[4 * j + 2]}:${t[4 * j + 3]}`) : [];
    let kept = 0;
    let collapsed = 0;
    for (let k = 0; k < 4000; k++) {
      let s = '';
      const n = Math.floor(r() * 30);
      const max = k % 2 ? pieces.length : 9;
      for (let i = 0; i < n; i++) s += pieces[Math.floor(r() * max)]!;
      for (const o of options) {
        const before = textStats(s, true);
        const facts = {words: before.words, wordChars: before.wordChars, digits: before.digits, hashSigns: before.hashSigns, ellipses: before.ellipses, atOrColon: before.atOrColon,
          hashes: [...before.hashes], lens: [...before.lens], terms: termStrings(s, before.terms)};
        const got = normalizeKnown(s, o, before);
        expect(got.text, JSON.stringify({s, o})).toBe(referenceNormalize(s, o));
        if (!got.wordsKept) continue;
        kept++;
        if (got.text !== s) collapsed++;
        const after = textStats(got.text, true);
        expect({words: after.words, wordChars: after.wordChars, digits: after.digits, hashSigns: after.hashSigns, ellipses: after.ellipses, atOrColon: after.atOrColon,
          hashes: [...after.hashes], lens: [...after.lens], terms: termStrings(got.text, after.terms)}, JSON.stringify({s, o})).toEqual(facts);
      }
    }
    expect(kept).toBeGreaterThan(2000);
    expect(collapsed).toBeGreaterThan(500);
  });

  it('output lines: the direct writer equals JSON.stringify whenever textStats says the text needs no escapes', () => {
    const r = rng(12);
    const pieces = ['word', ' ', '\n', '"', '\\', '/', '\t', '\r', '\u0001', '\u007f', '\u2028', 'é', '😀', '\ud800', '\udc00', '<', '&'];
    let direct = 0;
    for (let k = 0; k < 5000; k++) {
      const parts: string[] = [];
      for (let m = 0; m < 1 + (k % 3); m++) {
        let s = '';
        const n = Math.floor(r() * 12);
        for (let i = 0; i < n; i++) s += pieces[Math.floor(r() * (k % 2 ? pieces.length : 3))]!;
        parts.push(s);
      }
      const id = k % 7 ? `id-${k}` : `q"${k}`;
      const text = {kind: 'text' as const, format: 'text' as const, text: parts.join('\n')};
      const chat = {kind: 'chat' as const, format: 'openai' as const, messages: parts.map((content, i) => ({role: i % 2 ? ('assistant' as const) : ('user' as const), content}))};
      const plain = textStats(parts.join('\n')).jsonPlain;
      if (plain) direct++;
      expect(keptJson(text, id, plain)).toBe(JSON.stringify({id, text: text.text}));
      expect(keptJson(chat, id, plain)).toBe(JSON.stringify({id, messages: chat.messages}));
    }
    expect(direct).toBeGreaterThan(1500);
  });

  it('drift profile: terms counted per batch in workers, minus removed duplicates, equal ReferenceProfileBuilder', () => {
    const r = rng(2);
    const words = ['alpha', 'Beta', 'GAMMA', 'x', 'y2k', '2024', 'a'.repeat(23), 'b'.repeat(24), 'C'.repeat(25), 'd'.repeat(49), 'café', 'İstanbul', '日本語', 'naïve', 'ok'];
    const prompts = Array.from({length: 600}, () => {
      const n = Math.floor(r() * 40);
      const ws: string[] = [];
      for (let i = 0; i < n; i++) ws.push(words[Math.floor(r() * (r() < 0.9 ? 8 : words.length))]! + (r() < 0.2 ? ',' : ''));
      return ws.join(r() < 0.1 ? '\n' : ' ');
    });
    const dropped = new Set(prompts.map((_, i) => i).filter(() => r() < 0.1));
    const builder = new ReferenceProfileBuilder();
    prompts.forEach((p, i) => !dropped.has(i) && builder.add(p));
    const totals = new ProfileTotals();
    for (let b = 0; b < prompts.length; b += 97) {
      const batch = new TermBatch();
      for (const p of prompts.slice(b, b + 97)) batch.add(p);
      totals.merge(batch.part());
    }
    // A batch whose prompts have no term at all (a one-letter word is not a term).
    const termless = new TermBatch();
    for (const p of ['', '!?', 'a b c']) {
      termless.add(p);
      builder.add(p);
    }
    totals.merge(termless.part());
    const removed = new TermBatch();
    for (const i of dropped) removed.add(prompts[i]!);
    totals.subtract(removed.part());
    expect(JSON.stringify(totals.build())).toBe(JSON.stringify(builder.build()));
    expect(JSON.stringify(totals.build(5))).toBe(JSON.stringify(builder.build(5)));
  });

  it('drift profile: a prompt added with a weight counts as that many copies (repeated duplicates taken back once)', () => {
    const prompts = ['alpha beta beta gamma', 'Café CAFÉ naïve 日本語', 'x', 'İstanbul Σίσυφος', 'one two three four'];
    const once = new TermBatch();
    const weighted = new TermBatch();
    prompts.forEach((p, i) => {
      for (let k = 0; k <= i; k++) once.add(p);
      weighted.add(p, i + 1);
    });
    const a = once.part();
    const b = weighted.part();
    expect({...b, counts: [...b.counts]}).toEqual({...a, counts: [...a.counts]});
  });

  it('drift profile: the scan over non-ASCII text (tables of lowercase and letter classes) counts the same as ReferenceProfileBuilder', () => {
    const r = rng(21);
    // Letters and numbers of many scripts, capitals whose lowercase is one unit or not (İ), final
    // sigma (Σ), titlecase digraphs, combining marks, non-letters, astral letters and emoji.
    const units = ['a', 'Z', '7', 'é', 'É', 'ß', 'ẞ', 'İ', 'ı', 'Σ', 'σ', 'ς', 'Ω', 'Ж', 'ж', 'Ǆ', 'ǅ', 'ǆ', '日', '本', '٣', '५', 'Ａ', 'ｚ',
      '\u0301', '\u0307', '-', ' ', ' ', ' ', ',', '’', '\u00a0', '𝐀', '😀', 'ﬁ', 'Ⅻ', 'ⅻ'];
    const prompts = Array.from({length: 3000}, (_, k) => {
      let p = '';
      const n = Math.floor(r() * 60);
      // A third of the prompts avoid the units that send the scan to the regex path.
      const pool = k % 3 === 0 ? units.filter((u) => !['İ', 'Σ', '𝐀', '😀', 'ẞ', 'ﬁ'].includes(u)) : units;
      for (let i = 0; i < n; i++) p += pool[Math.floor(r() * pool.length)]!;
      return p;
    });
    const builder = new ReferenceProfileBuilder();
    const totals = new ProfileTotals();
    for (let b = 0; b < prompts.length; b += 250) {
      const batch = new TermBatch();
      for (const p of prompts.slice(b, b + 250)) {
        builder.add(p);
        batch.add(p);
      }
      totals.merge(batch.part());
    }
    expect(JSON.stringify(totals.build())).toBe(JSON.stringify(builder.build()));
    expect(Object.keys(builder.build().terms).filter((t) => /[^\x00-\x7f]/.test(t)).length).toBeGreaterThan(100);
  });

  it('drift profile: terms found in the textStats pass (ASCII texts) count the same as ReferenceProfileBuilder', () => {
    const r = rng(3);
    const words = ['alpha', 'Beta', 'GAMMA', 'x', 'y2k', '2024', "don't", 'a-b', 'e.g.', '(ok)', 'a'.repeat(23), 'b'.repeat(24), 'C'.repeat(25), 'd'.repeat(26), 'e'.repeat(49), 'café', '日本語'];
    const seps = [' ', '\n', '\t', ' \r\n', '  '];
    const prompts = Array.from({length: 800}, () => {
      const n = Math.floor(r() * 40);
      const ws: string[] = [];
      for (let i = 0; i < n; i++) ws.push(words[Math.floor(r() * (r() < 0.9 ? 15 : words.length))]! + (r() < 0.2 ? ',' : ''));
      return ws.join(seps[Math.floor(r() * seps.length)]!);
    });
    const builder = new ReferenceProfileBuilder();
    const totals = new ProfileTotals();
    let viaStats = 0;
    for (let b = 0; b < prompts.length; b += 97) {
      const batch = new TermBatch();
      for (const p of prompts.slice(b, b + 97)) {
        builder.add(p);
        const st = textStats(p, true);
        if (st.terms) {
          batch.addFound(p, st.terms, p.length);
          viaStats++;
        } else batch.add(p);
      }
      totals.merge(batch.part());
    }
    expect(viaStats).toBeGreaterThan(400);
    expect(JSON.stringify(totals.build())).toBe(JSON.stringify(builder.build()));
  });

  it('drift profile: a processor flushing its term table every few terms adds up to the same profile as the builder', async () => {
    const r = rng(13);
    const words = ['alpha', 'Beta', 'GAMMA', 'x', 'y2k', '2024', "don't", 'a'.repeat(11), 'b'.repeat(24), 'C'.repeat(30), 'café', '日本語', 'naïve'];
    const text = () => Array.from({length: 5 + Math.floor(r() * 30)}, () => words[Math.floor(r() * words.length)]!).join(r() < 0.2 ? '  ' : ' ');
    type Rec = {text: string} | {messages: Array<{role: 'user' | 'assistant'; content: string}>};
    const records = Array.from({length: 400}, (_, i): Rec =>
      i % 3 === 2 ? {messages: [{role: 'user', content: text()}, {role: 'assistant', content: text()}]} : {text: text()},
    );
    const cfg = dataConfig({});
    const opts = (termFlush?: number): ProcessOptions => ({
      files: ['t.jsonl'], field_map: {}, normalize: cfg.normalize, quality: {...cfg.quality, enabled: false}, pii: {mode: 'keep', types: []},
      near: false, ngram: 5, num_perm: 128, bands: 0, rows: 0, dedup_seed: 1, split: {train: 1, val: 0, test: 0, seed: 1}, tokenizer: 'byte',
      term_flush: termFlush,
    });
    const profileOf = async (termFlush?: number) => {
      const proc = new BatchProcessor(opts(termFlush));
      await proc.init();
      const totals = new ProfileTotals();
      let flushes = 0;
      for (let b = 0; b < records.length; b += 50) {
        const out = proc.process(records.slice(b, b + 50).map((rec, k) => ({src: 0, line: b + k + 1, raw: JSON.stringify(rec)})));
        if (out.profile) {
          flushes++;
          totals.merge(out.profile);
        }
      }
      const last = proc.flushTerms();
      if (last) totals.merge(last);
      return {profile: JSON.stringify(totals.build()), flushes};
    };
    const builder = new ReferenceProfileBuilder();
    const norm = (t: string) => normalizeText(t, cfg.normalize);
    for (const rec of records) {
      builder.add(promptOf('text' in rec ? {text: norm(rec.text)} : {messages: rec.messages.map((m) => ({...m, content: norm(m.content)}))}));
    }
    const flushed = await profileOf(5);
    expect(flushed.flushes).toBe(8);
    expect(flushed.profile).toBe(JSON.stringify(builder.build()));
    expect((await profileOf()).profile).toBe(flushed.profile);
  });

  it('LSH bands and rows: the shared-powers search picks what evaluating every S-curve point picks', () => {
    // The straightforward search (Simpson's rule over f at each point), the reference.
    const integrate = (f: (x: number) => number, a: number, b: number) => {
      const h = (b - a) / 200;
      let s = f(a) + f(b);
      for (let i = 1; i < 200; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
      return (s * h) / 3;
    };
    const reference = (t: number, numPerm: number) => {
      let best = {bands: 1, rows: numPerm, err: Number.POSITIVE_INFINITY};
      for (let b = 1; b <= numPerm; b++) {
        for (let r = 1; r <= Math.floor(numPerm / b); r++) {
          const err = integrate((s) => 1 - (1 - s ** r) ** b, 0, t) * 0.2 + integrate((s) => (1 - s ** r) ** b, t, 1) * 0.8;
          if (err < best.err) best = {bands: b, rows: r, err};
        }
      }
      return [best.bands, best.rows];
    };
    for (const [t, numPerm] of [[0.8, 128], [0.5, 64], [0.7, 100], [0.9, 256], [0.85, 128], [0.6, 32]] as const) {
      const got = optimalLsh(t, numPerm);
      expect([got.bands, got.rows], `${t} ${numPerm}`).toEqual(reference(t, numPerm));
    }
  });

  it('quality: skipping n-gram counts under the (n-1)-gram and over-count bounds gives the same verdicts and scores as computing all', () => {
    const r = rng(3);
    const o = dataConfig({}).quality;
    const vocab = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'looked', 'around', 'quietly', 'extraordinarily'];
    let rejectedByNgram = 0;
    for (let k = 0; k < 1500; k++) {
      const n = 50 + Math.floor(r() * 200);
      const size = 2 + Math.floor(r() * vocab.length);
      const ws: string[] = [];
      for (let i = 0; i < n; i++) ws.push(vocab[Math.floor(r() * size)]!);
      const text = ws.join(' ');
      const got = checkQuality(text, o);
      // Reference: the original loop, every n computed.
      const st = textStats(text);
      let want: {rule: string; score: number; limit: number} | undefined = checkQuality(text, {...o, rules: {...o.rules, max_top_ngram_fraction: 1e9}});
      // (The repetition rules apply from 50 words; some generated texts have fewer, empty words left out.)
      if (!want && st.words >= 50) {
        for (const g of [2, 3, 4]) {
          const limit = Math.round(((o.rules.max_top_ngram_fraction as number) - (g - 2) * 0.02) * 10_000) / 10_000;
          const frac = topNgramFraction(st, g, text.length);
          if (frac > limit) {
            want = {rule: `max_top_${g}gram_fraction`, score: Math.round(frac * 10_000) / 10_000, limit};
            break;
          }
        }
      }
      expect(got, text).toEqual(want);
      if (got?.rule.startsWith('max_top_')) rejectedByNgram++;
      for (const g of [2, 3, 4]) {
        expect(ngramCountBound(st, g)).toBeGreaterThanOrEqual(topNgram(st, g, text.length).best);
        // The runs textStats keeps equal the longest window found by sliding over the words.
        const tokens = text.split(' ').filter(Boolean);
        let longest = 0;
        for (let i = 0; i + g <= tokens.length; i++) longest = Math.max(longest, tokens.slice(i, i + g).join(' ').length);
        expect(maxWindowChars(st, g), `${g} ${text}`).toBe(longest);
      }
    }
    expect(rejectedByNgram).toBeGreaterThan(100);
  });

  it('quality: the line-length bound that skips the duplicate-line count gives the same verdicts as counting always', () => {
    const r = rng(4);
    const q = dataConfig({}).quality;
    const o = {...q, rules: {...q.rules, max_top_ngram_fraction: 1e9, max_digit_ratio: 1}};
    const dupLimit = q.rules.max_duplicate_line_fraction as number;
    const pool = Array.from({length: 12}, (_, i) => Array.from({length: 6 + (i % 4)}, (_, j) => `word${(i * 7 + j) % 13}`).join(' '));
    let rejected = 0;
    let skippedLengthsShared = 0;
    for (let k = 0; k < 1500; k++) {
      const lines: string[] = [];
      const nLines = 1 + Math.floor(r() * 14);
      const size = 1 + Math.floor(r() * pool.length);
      for (let i = 0; i < nLines; i++) lines.push(r() < 0.15 ? '' : pool[Math.floor(r() * size)]!);
      // Pad to 50+ words so the repetition rules apply.
      const text = lines.join('\n') + '\n' + Array.from({length: 50}, (_, i) => `pad${i}`).join(' ');
      const got = checkQuality(text, o);
      // Reference: the plain count, without the bound.
      const nonEmpty = text.split('\n').filter((l) => l.length > 0);
      const dup = nonEmpty.length - new Set(nonEmpty).size;
      const frac = dup / nonEmpty.length;
      const want = nonEmpty.length > 1 && frac > dupLimit
        ? {rule: 'max_duplicate_line_fraction', score: Math.round(frac * 10_000) / 10_000, limit: dupLimit}
        : undefined;
      expect(got, text).toEqual(want);
      if (got) rejected++;
      else if (new Set(nonEmpty.map((l) => l.length)).size < nonEmpty.length) skippedLengthsShared++;
    }
    expect(rejected).toBeGreaterThan(100);
    expect(skippedLengthsShared).toBeGreaterThan(100);
  });

  it('PII: records without digits still get IPv6 and secrets redacted (the pre-checks do not skip them)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-fast-'));
    const secret = 'sk-' + 'abcdefghijklmnopqrstuvwxyzABCD';
    const lines = [
      {text: `the server listens on fe::ab for everyone who asks politely and the key ${secret} stays here`},
      {text: 'plain prose without any digits at all, nothing to find in it whatsoever'},
      {instruction: 'where do I write?', output: 'write to someone@example.org today'},
    ];
    writeFileSync(path.join(dir, 'a.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const config = dataConfig({inputs: ['a.jsonl'], out: 'out', split: {train: 1, val: 0, test: 0}, quality: {enabled: false}});
    const res = await prepareData({root: dir, config, cacheDir: '.c', workers: 0});
    const train = readFileSync(path.join(dir, 'out', 'train.jsonl'), 'utf8');
    expect(train).toContain('<IP_ADDRESS>');
    expect(train).toContain('<SECRET>');
    expect(train).toContain('<EMAIL>');
    expect(train).not.toContain(secret);
    expect(res.pii.counts).toEqual({email: 1, ip: 1, secret: 1});
  });
});
