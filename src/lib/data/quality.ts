/**
 * Stage 3: quality filters of the Gopher/C4 family (Rae et al. 2021, Raffel et al. 2020), each
 * returning the rule and the measured score so a rejected record explains itself.
 *
 * Defaults (schema.ts, docs/data.md): 1..100,000 chars, 1..20,000 words, mean word length 2..12,
 * symbol ratio <= 0.1, digit ratio <= 0.3, duplicate-line fraction <= 0.3, top 2/3/4-gram
 * character fraction <= 0.2/0.18/0.16 (Gopher's steps of 0.02 below the configured 2-gram limit).
 * The repetition rules only apply from 50 words (Gopher's minimum document length): a short chat answer repeating "yes, yes" is fine.
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

import {maxWindowChars, ngramCountBound, textStats, topNgram, type TextStats} from './textstats.js';

// Gopher applies its rules to documents of 50 words or more; below that one repeat dominates the ratios.
const REPETITION_MIN_WORDS = 50;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

let lineLens = new Int32Array(256);

/**
 * An upper bound of the duplicate-line fraction from line lengths alone: only lines whose length
 * another line shares can be duplicates. Prose rarely has two lines of one length, so the exact
 * count (a string per line into a Set) is mostly skipped.
 */
function duplicateLineBound(text: string): number {
  let n = 0;
  for (let start = 0; start <= text.length; ) {
    let i = text.indexOf('\n', start);
    if (i === -1) i = text.length;
    if (i > start) {
      if (n === lineLens.length) {
        const l = new Int32Array(n * 2);
        l.set(lineLens);
        lineLens = l;
      }
      lineLens[n++] = i - start;
    }
    start = i + 1;
  }
  if (n <= 1) return 0;
  const lens = lineLens.subarray(0, n).sort();
  let shared = 0;
  for (let i = 1; i < n; i++) if (lens[i] === lens[i - 1]) shared++;
  return shared / n;
}

/**
 * Gopher's symbol-to-word ratio (Rae et al. 2021, A.1; datatrove GopherQualityFilter): the larger of
 * "#" per word and ellipses ("...", "…") per word, over words that are not only punctuation. Most
 * texts have neither symbol, and then the words are not counted again.
 */
export function symbolWordRatio(st: TextStats): number {
  const top = Math.max(st.hashSigns, st.ellipses);
  if (top === 0) return 0;
  let n = 0;
  for (let i = 0; i < st.words; i++) if (st.hashes[i] !== 0) n++;
  return top / Math.max(1, n);
}

export function checkQuality(text: string, o: QualityOptions, stats?: TextStats): QualityVerdict | undefined {
  if (!o.enabled) return undefined;
  const chars = text.length;
  if (chars === 0) return {rule: 'empty', score: 0, limit: 1};
  if (chars < o.min_chars) return {rule: 'min_chars', score: chars, limit: o.min_chars};
  if (chars > o.max_chars) return {rule: 'max_chars', score: chars, limit: o.max_chars};

  const st = stats ?? textStats(text);
  const {words, wordChars, digits} = st;
  if (words < o.min_words) return {rule: 'min_words', score: words, limit: o.min_words};
  if (words > o.max_words) return {rule: 'max_words', score: words, limit: o.max_words};
  const mean = wordChars / words;
  if (mean < o.min_mean_word_length) return {rule: 'min_mean_word_length', score: round(mean), limit: o.min_mean_word_length};
  if (mean > o.max_mean_word_length) return {rule: 'max_mean_word_length', score: round(mean), limit: o.max_mean_word_length};
  const sym = symbolWordRatio(st);
  if (sym > o.max_symbol_ratio) return {rule: 'max_symbol_ratio', score: round(sym), limit: o.max_symbol_ratio};
  const digitRatio = digits / wordChars;
  if (digitRatio > o.max_digit_ratio) return {rule: 'max_digit_ratio', score: round(digitRatio), limit: o.max_digit_ratio};

  if (words < REPETITION_MIN_WORDS) return undefined;
  if (text.includes('\n') && duplicateLineBound(text) > o.max_duplicate_line_fraction) {
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
  // An n-gram occurs at most as often as its (n-1)-gram prefix, so the top (n-1)-gram's count times
  // the longest n-word window bounds the n-gram fraction: when that bound is within the limit the
  // exact count is not needed (skips most 3- and 4-gram passes on ordinary text).
  // The same bound with a cheap over-count (ngramCountBound) clears most of the rest, so the exact
  // count runs only for documents near or over a limit (verdicts and scores unchanged).
  let prevBest = Number.POSITIVE_INFINITY;
  for (const n of [2, 3, 4]) {
    const limit = round(o.max_top_ngram_fraction - (n - 2) * 0.02);
    if (prevBest !== Number.POSITIVE_INFINITY) {
      const bound = prevBest < 2 ? 0 : (prevBest * maxWindowChars(st, n)) / chars;
      if (bound <= limit) continue;
    }
    const over = ngramCountBound(st, n);
    if (over < 2 || (over * maxWindowChars(st, n)) / chars <= limit) {
      prevBest = Math.min(prevBest, over);
      continue;
    }
    const top = topNgram(st, n, chars);
    if (top.frac > limit) return {rule: `max_top_${n}gram_fraction`, score: round(top.frac), limit};
    prevBest = top.best;
  }
  return undefined;
}

