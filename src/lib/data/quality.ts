/**
 * Stage 3 for text records: the Gopher rules (Rae et al. 2021) as datatrove defines them, one C4
 * rule, and bounds of our own (docs/data.md, "Quality rules", says where we deviate and why). Each
 * returns the rule and the measured score so a rejected record explains itself. Chat and
 * instruction records get the fine-tuning rules of sft-rules.ts instead.
 *
 * The repetition rules only apply from 50 words (Gopher's minimum document length).
 */
import type {DataConfig} from '../config/schema.js';

export type QualityOptions = DataConfig['quality'];
export type QualityRules = QualityOptions['rules'];

export interface QualityVerdict {
  rule: string;
  score: number;
  limit: number;
}

import {maxWindowChars, ngramCountBound, textStats, topNgram, type TextStats} from './textstats.js';

// Gopher applies its rules to documents of 50 words or more; below that one repeat dominates the ratios.
const REPETITION_MIN_WORDS = 50;
const LOREM = /lorem ipsum/i;
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

/** Text rules that compare a score with a limit, in the order they are checked. */
export function checkQuality(text: string, o: QualityOptions, stats?: TextStats): QualityVerdict | undefined {
  if (!o.enabled) return undefined;
  const r = o.rules;
  const chars = text.length;
  if (chars === 0) return {rule: 'empty', score: 0, limit: 1};
  if (r.min_chars !== false && chars < r.min_chars) return {rule: 'min_chars', score: chars, limit: r.min_chars};
  if (r.max_chars !== false && chars > r.max_chars) return {rule: 'max_chars', score: chars, limit: r.max_chars};

  const st = stats ?? textStats(text);
  const {words, wordChars, digits} = st;
  if (r.min_words !== false && words < r.min_words) return {rule: 'min_words', score: words, limit: r.min_words};
  if (r.max_words !== false && words > r.max_words) return {rule: 'max_words', score: words, limit: r.max_words};
  if (words === 0) return undefined;
  const mean = wordChars / words;
  if (r.min_mean_word_length !== false && mean < r.min_mean_word_length) return {rule: 'min_mean_word_length', score: round(mean), limit: r.min_mean_word_length};
  if (r.max_mean_word_length !== false && mean > r.max_mean_word_length) return {rule: 'max_mean_word_length', score: round(mean), limit: r.max_mean_word_length};
  if (r.max_symbol_ratio !== false) {
    const sym = symbolWordRatio(st);
    if (sym > r.max_symbol_ratio) return {rule: 'max_symbol_ratio', score: round(sym), limit: r.max_symbol_ratio};
  }
  const digitRatio = digits / wordChars;
  if (r.max_digit_ratio !== false && digitRatio > r.max_digit_ratio) return {rule: 'max_digit_ratio', score: round(digitRatio), limit: r.max_digit_ratio};
  // C4 (Raffel et al. 2020; datatrove C4QualityFilter): a page with "lorem ipsum" or, when asked, any curly bracket.
  if (r.c4_lorem_ipsum && LOREM.test(text)) return {rule: 'c4_lorem_ipsum', score: 1, limit: 0};
  if (r.c4_curly_bracket && text.includes('{')) return {rule: 'c4_curly_bracket', score: 1, limit: 0};

  if (words < REPETITION_MIN_WORDS) return undefined;
  const dupLimit = r.max_duplicate_line_fraction;
  if (dupLimit !== false && text.includes('\n') && duplicateLineBound(text) > dupLimit) {
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines.length > 1) {
      const seen = new Set<string>();
      let dup = 0;
      for (const l of lines) {
        if (seen.has(l)) dup++;
        else seen.add(l);
      }
      const frac = dup / lines.length;
      if (frac > dupLimit) return {rule: 'max_duplicate_line_fraction', score: round(frac), limit: dupLimit};
    }
  }
  // An n-gram occurs at most as often as its (n-1)-gram prefix, so the top (n-1)-gram's count times
  // the longest n-word window bounds the n-gram fraction: when that bound is within the limit the
  // exact count is not needed (skips most 3- and 4-gram passes on ordinary text).
  // The same bound with a cheap over-count (ngramCountBound) clears most of the rest, so the exact
  // count runs only for documents near or over a limit (verdicts and scores unchanged).
  if (r.max_top_ngram_fraction === false) return undefined;
  let prevBest = Number.POSITIVE_INFINITY;
  for (const n of [2, 3, 4]) {
    const limit = round(r.max_top_ngram_fraction - (n - 2) * 0.02);
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

