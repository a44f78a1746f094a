/**
 * The Gopher rules pinned to their published definitions (Rae et al. 2021, appendix A.1; as
 * datatrove's GopherQualityFilter and GopherRepetitionFilter compute them), with the one declared
 * deviation: words are whitespace-separated tokens (docs/data.md, "Quality rules"). The references
 * below are written from those definitions, string by string, independently of textStats.
 */
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {checkQuality} from '../../src/lib/data/quality.js';

const defaults = () => configSchema.parse({data: {}}).data.quality;
type Rules = ReturnType<typeof defaults>['rules'];
/** The default options with some rules changed. */
const withRules = (o: ReturnType<typeof defaults>, rules: Partial<Rules>) => ({...o, rules: {...o.rules, ...rules}});
const wordsOf = (t: string) => t.split(/\s+/).filter(Boolean);
const notPunct = (w: string) => /[\p{L}\p{N}]/u.test(w);
const count = (t: string, s: string) => t.split(s).length - 1;

/** Gopher: "#" per word and ellipses per word, each against the limit (datatrove: gopher_too_many_hashes / _ellipsis). */
function refSymbol(text: string): number {
  const n = wordsOf(text).filter(notPunct).length;
  return Math.max(count(text, '#') / n, (count(text, '...') + count(text, '…')) / n);
}

/** The rule before: every character of # $ % & * + / < = > @ [ \ ] ^ _ ` { | } ~ over word characters. */
function oldSymbol(text: string): number {
  const ws = wordsOf(text);
  const sym = [...text].filter((c) => '#$%&*+/<=>@[\\]^_`{|}~'.includes(c)).length;
  return sym / ws.reduce((a, w) => a + w.length, 0);
}

/** Gopher: duplicate lines over lines (blank lines left out: our deviation). */
function refDupLines(text: string): number {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const seen = new Set<string>();
  let dup = 0;
  for (const l of lines) (seen.has(l) ? dup++ : seen.add(l));
  return dup / lines.length;
}

/**
 * Gopher: characters of the most frequent n-gram (words joined by spaces) times its count, over the
 * text's characters; among n-grams with the same count the first to occur (Counter.most_common).
 */
function refTopNgram(text: string, n: number): {frac: number; count: number} {
  const ws = wordsOf(text);
  const c = new Map<string, number>();
  for (let i = 0; i + n <= ws.length; i++) {
    const g = ws.slice(i, i + n).join(' ');
    c.set(g, (c.get(g) ?? 0) + 1);
  }
  let top = '';
  let best = 0;
  for (const [g, k] of c) {
    if (k > best) {
      best = k;
      top = g;
    }
  }
  return {frac: (top.length * best) / text.length, count: best};
}

const prose = (n: number, seed: number) => {
  const vocab = ['river', 'stone', 'light', 'garden', 'window', 'paper', 'silver', 'market', 'cloud', 'forest', 'engine', 'letter', 'harbor', 'winter', 'signal', 'candle', 'the', 'of', 'and', 'with'];
  let a = seed;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    out.push(vocab[(a >>> 8) % vocab.length]!);
  }
  return out.join(' ');
};

// Texts on which the old and the new symbol rule disagree (each verdict checked below).
const DISAGREE: Array<[string, string]> = [
  ['GSM8K-style answer with calculator annotations', 'Natalia sold 48/2 = <<48/2=24>>24 clips in May. She sold 48+24 = <<48+24=72>>72 clips in April and May. Each clip cost $2, so she earned 72*2 = <<72*2=144>>144 dollars, and after paying 144-100 = <<144-100=44>>44 she kept the rest of the money for her school trip.\n#### 72'],
  ['code with operators and brackets', `Use this function: def add(a, b): return {"sum": a + b} if a >= 0 else [a * b] and x = y % z;`],
  ['a path and an email-like address', `Files live in /usr/local/share/data/models/v1/weights_and_biases/run_01 and a@b.c ${prose(3, 9)}`],
  ['ellipsis-heavy text', `${prose(10, 2).split(' ').join('... ')}... ${prose(40, 4)}`],
  ['markdown with many hash headings', Array.from({length: 12}, (_, i) => `## Heading ${i}\n${prose(4, i + 20)}`).join('\n')],
  ['unicode ellipses', `${prose(8, 11).split(' ').join('… ')}… and then ${prose(42, 12)}`],
];

describe('Gopher rules as published (datatrove definitions, whitespace words)', () => {
  it.each(DISAGREE)('max_symbol_ratio on %s: our score equals the definition and the verdict follows it, where the old rule said the opposite', (_name, text) => {
    const o = withRules(defaults(), {max_digit_ratio: 1, max_mean_word_length: 100, min_mean_word_length: 0});
    const ref = refSymbol(text);
    const v = checkQuality(text, o);
    const ours = v?.rule === 'max_symbol_ratio' ? v.score : undefined;
    if (ref > 0.1) expect(ours).toBeCloseTo(ref, 4);
    else expect(v).toBeUndefined();
    // The old rule disagreed on this text.
    expect(oldSymbol(text) > 0.1).toBe(!(ref > 0.1));
  });

  it('duplicate-line fraction and top 2/3/4-gram fractions equal the definitions on repetitive and ordinary texts', () => {
    const o = withRules(defaults(), {max_symbol_ratio: 1, max_digit_ratio: 1, max_duplicate_line_fraction: 1, max_top_ngram_fraction: 1});
    const texts = [
      prose(300, 1),
      Array.from({length: 40}, (_, i) => (i % 3 === 0 ? 'the same line again' : prose(6, i))).join('\n'),
      `${prose(30, 7)} ${'river stone '.repeat(30)}${prose(30, 8)}`,
      `${'the light of the garden '.repeat(20)}${prose(60, 9)}`,
    ];
    for (const t of texts) {
      expect(checkQuality(t, o)).toBeUndefined();
      const dupLimit = refDupLines(t) - 1e-9;
      const dl = checkQuality(t, withRules(o, {max_duplicate_line_fraction: Math.max(0, dupLimit)}));
      if (refDupLines(t) > 0) expect(dl).toMatchObject({rule: 'max_duplicate_line_fraction', score: Math.round(refDupLines(t) * 1e4) / 1e4});
      // With the 2-gram limit at L the 3- and 4-gram limits are L - 0.02 and L - 0.04 (Gopher's table A1).
      // An n-gram that occurs once is not counted (our deviation: Gopher's rules apply from 50 words, where one cannot pass a limit).
      const [r2, r3, r4] = [2, 3, 4].map((n) => refTopNgram(t, n)).map((r) => (r.count > 1 ? r.frac : 0)) as [number, number, number];
      const limit = Math.max(r2, r3 + 0.02, r4 + 0.04);
      expect(checkQuality(t, withRules(o, {max_top_ngram_fraction: limit + 1e-4}))).toBeUndefined();
      if (limit > 0.05) {
        const L = Math.round((limit - 1e-3) * 1e4) / 1e4;
        const v = checkQuality(t, withRules(o, {max_top_ngram_fraction: L}));
        // Checked in order 2, 3, 4: the first over its limit.
        const n = [2, 3, 4].find((k) => [r2, r3, r4][k - 2]! > Math.round((L - (k - 2) * 0.02) * 1e4) / 1e4)!;
        expect(v?.rule, JSON.stringify({r2, r3, r4, L, t: t.slice(0, 80)})).toBe(`max_top_${n}gram_fraction`);
        expect(v?.score).toBeCloseTo([r2, r3, r4][n - 2]!, 4);
      }
    }
  });
});
