/**
 * Stage 3 for chat and instruction records: rules made for supervised fine-tuning (docs/data.md,
 * "Quality rules"). Web-page rules (Gopher/C4) judge a page by its symbols and repetition; a
 * fine-tuning record is judged by whether it teaches a usable answer: an assistant turn is there
 * and not empty, roles follow each other as a chat template expects, no turn is absurdly long, the
 * answer is not the prompt again, not a degenerate loop, and not encoding debris. Math annotations,
 * code, tables, lists, short answers and any language pass the defaults.
 */
import {detectLanguage} from './language.js';
import type {QualityRules} from './quality.js';
import type {Message} from './records.js';

export interface SftVerdict {
  rule: string;
  score: number;
  limit: number;
  reason: string;
}

/** What is wrong with the order of roles, or undefined: system?, user, assistant (tool calls -> tool+ -> assistant), user, ..., assistant. */
export function roleOrderProblem(messages: Message[]): string | undefined {
  let i = messages[0]?.role === 'system' ? 1 : 0;
  if (i >= messages.length) return 'a conversation needs at least one user and one assistant turn';
  let expect: Array<Message['role']> = ['user'];
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if (!expect.includes(m.role)) {
      return `turn ${i + 1} is "${m.role}", expected ${expect.map((r) => `"${r}"`).join(' or ')} (system?, then user/assistant alternating; tool turns after an assistant's tool calls)`;
    }
    if (m.role === 'user') expect = ['assistant'];
    else if (m.role === 'assistant') expect = m.tool_calls && m.tool_calls.length > 0 ? ['tool'] : ['user'];
    else if (m.role === 'tool') expect = ['tool', 'assistant'];
  }
  if (messages[messages.length - 1]!.role !== 'assistant') return 'the conversation must end with an assistant turn';
  return undefined;
}

// Mojibake: UTF-8 read as Latin-1/Windows-1252 ("Ã©" for "é", "â€™" for "’", "Â " for a no-break space).
const MOJIBAKE = /[ÂÃ][\u0080-\u00BF]|â€[\u0080-\u00BF\u0152\u0153\u0160\u0161\u0178\u017D\u017E\u0192\u02C6\u02DC\u2013\u2014\u2018-\u201E\u2020-\u2022\u2026\u2030\u2039\u203A\u20AC\u2122]/g;
// Markup escaped once too often: "&lt;div class=...&gt;", "&lt;/p&gt;".
const ESCAPED_TAG = /&lt;\/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^&]{0,200})?\/?&gt;/g;

/** Occurrences of encoding debris: U+FFFD, mojibake sequences and HTML-escaped tags. */
export function encodingDebris(text: string): number {
  let n = 0;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd) n++;
    else if (c >= 128) ascii = false;
  }
  if (!ascii) n += text.match(MOJIBAKE)?.length ?? 0;
  if (text.includes('&lt;')) n += text.match(ESCAPED_TAG)?.length ?? 0;
  return n;
}

const hasLetter = (w: string) => /\p{L}/u.test(w);

/**
 * The most consecutive repeats of one word, one phrase of up to 8 words, or one line. Words and
 * lines without a letter break a run: numbers in code ("0, 0, 0"), table rules ("| --- |") and
 * closing brackets repeat legitimately.
 */
export function maxRepeats(text: string): number {
  const ws = text.toLowerCase().split(/\s+/).filter(Boolean);
  const letter = ws.map(hasLetter);
  let best = 1;
  for (let p = 1; p <= 8 && p * 2 <= ws.length; p++) {
    let run = 0;
    for (let i = p; i < ws.length; i++) {
      if (letter[i] && ws[i] === ws[i - p]) {
        run++;
        const reps = Math.floor(run / p) + 1;
        if (reps > best) best = reps;
      } else run = 0;
    }
  }
  if (text.includes('\n')) {
    let run = 1;
    let prev = '';
    for (const l of text.split('\n')) {
      if (l.trim() === '' || !hasLetter(l)) continue;
      run = l === prev ? run + 1 : 1;
      prev = l;
      if (run > best) best = run;
    }
  }
  return best;
}

const norm = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

const REFUSAL = /\b(?:as an ai(?: language)? model|i(?:'m| am) (?:sorry|afraid),? but i (?:can(?:not|'t)|am unable|won't)|i (?:cannot|can't|am unable to) (?:assist|help|comply|provide (?:assistance|help)) with)/i;

/** The first SFT rule a conversation breaks, or undefined. Rules set to false are skipped. */
export function checkSft(messages: Message[], r: QualityRules): SftVerdict | undefined {
  if (r.empty_turn) {
    const k = messages.findIndex((m) => m.content.trim() === '' && m.role !== 'system' && !(m.role === 'assistant' && m.tool_calls?.length));
    if (k >= 0) return {rule: 'empty_turn', score: 0, limit: 1, reason: `turn ${k + 1} (${messages[k]!.role}) is empty`};
    if (!messages.some((m) => m.role === 'assistant')) return {rule: 'empty_turn', score: 0, limit: 1, reason: 'no assistant turn'};
  }
  if (r.role_order) {
    const problem = roleOrderProblem(messages);
    if (problem) return {rule: 'role_order', score: 1, limit: 0, reason: problem};
  }
  if (r.max_turn_chars !== false) {
    const limit = r.max_turn_chars;
    const k = messages.findIndex((m) => m.content.length > limit);
    if (k >= 0) return {rule: 'max_turn_chars', score: messages[k]!.content.length, limit, reason: `turn ${k + 1} (${messages[k]!.role}) has ${messages[k]!.content.length} characters (limit ${limit})`};
  }
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k]!;
    if (r.encoding_debris) {
      const n = encodingDebris(m.content);
      if (n > 0) return {rule: 'encoding_debris', score: n, limit: 0, reason: `turn ${k + 1} (${m.role}) has ${n} pieces of encoding debris (mojibake, U+FFFD or HTML-escaped tags)`};
    }
    if (r.max_repeats !== false) {
      const n = maxRepeats(m.content);
      if (n > r.max_repeats) return {rule: 'max_repeats', score: n, limit: r.max_repeats, reason: `turn ${k + 1} (${m.role}) repeats one word, phrase or line ${n} times in a row (limit ${r.max_repeats})`};
    }
    if (m.role !== 'assistant' || k === 0) continue;
    const prompt = messages[k - 1]!;
    if (r.echo && prompt.role === 'user') {
      const a = norm(m.content);
      if (a !== '' && a === norm(prompt.content)) return {rule: 'echo', score: 1, limit: 0, reason: `turn ${k + 1} (assistant) only repeats the prompt`};
    }
    if (r.refusal && REFUSAL.test(m.content)) return {rule: 'refusal', score: 1, limit: 0, reason: `turn ${k + 1} (assistant) is refusal boilerplate`};
    if (r.language_mismatch && prompt.role === 'user') {
      const a = detectLanguage(prompt.content);
      const b = detectLanguage(m.content);
      if (a.lang !== 'und' && b.lang !== 'und' && a.lang !== b.lang) {
        return {rule: 'language_mismatch', score: b.score, limit: 0, reason: `turn ${k + 1} (assistant) is ${b.lang}, the prompt ${a.lang}`};
      }
    }
  }
  if (r.min_answer_chars !== false) {
    const last = [...messages].reverse().find((m) => m.role === 'assistant');
    const n = last?.content.trim().length ?? 0;
    if (n < r.min_answer_chars) return {rule: 'min_answer_chars', score: n, limit: r.min_answer_chars, reason: `the answer has ${n} characters (limit ${r.min_answer_chars})`};
  }
  return undefined;
}
