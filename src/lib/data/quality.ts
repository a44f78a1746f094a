/**
 * Stage 3: quality filters of the Gopher/C4 family (Rae et al. 2021, Raffel et al. 2020), each
 * returning the rule and the measured score so a rejected record explains itself.
 *
 * Defaults (schema.ts, docs/data.md): 1..100,000 chars, 1..20,000 words, mean word length 2..12,
 * symbol ratio <= 0.1, digit ratio <= 0.3, duplicate-line fraction <= 0.3, top 2/3/4-gram
 * character fraction <= 0.2/0.18/0.16 (Gopher's steps of 0.02 below the configured 2-gram limit).
 * The repetition rules only apply from 20 words: a short chat answer repeating "yes, yes" is fine.
 */
export interface QualityOptions {
  enabled: boolean;
  min_chars: number;
  max_chars: number;
  min_words: number;
  max_words: number;
  min_mean_word_length: number;
  max_mean_word_length: number;
  max_symbol_ratio: number;
  max_digit_ratio: number;
  max_duplicate_line_fraction: number;
  max_top_ngram_fraction: number;
  language: string | null;
}

export interface QualityVerdict {
  rule: string;
  score: number;
  limit: number;
}

const REPETITION_MIN_WORDS = 20;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** Characters that are neither letters, digits, whitespace nor ordinary punctuation. */
function isSymbol(c: number): boolean {
  if (c < 128) {
    // # $ % & * + < = > @ [ \ ] ^ _ ` { | } ~ /
    return c === 35 || c === 36 || c === 37 || c === 38 || c === 42 || c === 43 || (c >= 60 && c <= 62) || c === 64 ||
      (c >= 91 && c <= 96) || (c >= 123 && c <= 126) || c === 47;
  }
  return false;
}

export function checkQuality(text: string, o: QualityOptions): QualityVerdict | undefined {
  if (!o.enabled) return undefined;
  const chars = text.length;
  if (chars === 0) return {rule: 'empty', score: 0, limit: 1};
  if (chars < o.min_chars) return {rule: 'min_chars', score: chars, limit: o.min_chars};
  if (chars > o.max_chars) return {rule: 'max_chars', score: chars, limit: o.max_chars};

  let words = 0;
  let wordChars = 0;
  let inWord = false;
  let symbols = 0;
  let digits = 0;
  for (let i = 0; i < chars; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13;
    if (space) inWord = false;
    else {
      if (!inWord) words++;
      inWord = true;
      wordChars++;
      if (c >= 48 && c <= 57) digits++;
      else if (isSymbol(c)) symbols++;
    }
  }
  if (words < o.min_words) return {rule: 'min_words', score: words, limit: o.min_words};
  if (words > o.max_words) return {rule: 'max_words', score: words, limit: o.max_words};
  const mean = wordChars / words;
  if (mean < o.min_mean_word_length) return {rule: 'min_mean_word_length', score: round(mean), limit: o.min_mean_word_length};
  if (mean > o.max_mean_word_length) return {rule: 'max_mean_word_length', score: round(mean), limit: o.max_mean_word_length};
  const symbolRatio = symbols / wordChars;
  if (symbolRatio > o.max_symbol_ratio) return {rule: 'max_symbol_ratio', score: round(symbolRatio), limit: o.max_symbol_ratio};
  const digitRatio = digits / wordChars;
  if (digitRatio > o.max_digit_ratio) return {rule: 'max_digit_ratio', score: round(digitRatio), limit: o.max_digit_ratio};

  if (words < REPETITION_MIN_WORDS) return undefined;
  if (text.includes('\n')) {
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines.length > 1) {
      const seen = new Set<string>();
      let dup = 0;
      for (const l of lines) {
        if (seen.has(l)) dup++;
        else seen.add(l);
      }
      const frac = dup / lines.length;
      if (frac > o.max_duplicate_line_fraction) {
        return {rule: 'max_duplicate_line_fraction', score: round(frac), limit: o.max_duplicate_line_fraction};
      }
    }
  }
  const ws = text.toLowerCase().split(/\s+/).filter(Boolean);
  for (const n of [2, 3, 4]) {
    const limit = round(o.max_top_ngram_fraction - (n - 2) * 0.02);
    const frac = topNgramCharFraction(ws, n, chars);
    if (frac > limit) return {rule: `max_top_${n}gram_fraction`, score: round(frac), limit};
  }
  return undefined;
}

/** Gopher (as datatrove computes it): characters of the most frequent word n-gram times its count, over the text's length. */
function topNgramCharFraction(ws: string[], n: number, total: number): number {
  if (ws.length < n) return 0;
  const counts = new Map<string, number>();
  let best = 0;
  let bestKey = '';
  for (let i = 0; i + n <= ws.length; i++) {
    const key = n === 2 ? ws[i] + ' ' + ws[i + 1] : ws.slice(i, i + n).join(' ');
    const c = (counts.get(key) ?? 0) + 1;
    counts.set(key, c);
    if (c > best) {
      best = c;
      bestKey = key;
    }
  }
  if (best < 2) return 0;
  return (best * bestKey.length) / total;
}
