/**
 * Eval input files: every record checked, every problem an input error naming the file, the line
 * and the field, and what was expected.
 */
import {createHash} from 'node:crypto';
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError, notFoundError} from '../errors.js';
import type {ChatMessage} from '../serve/chat-format.js';

export type TextRecord = {text: string} | {messages: ChatMessage[]};
export interface ChoiceRecord {
  question: string;
  choices: string[];
  answer: number;
}
export interface GenerateRecord {
  prompt?: string;
  messages?: ChatMessage[];
  answer: string;
}
export interface PairRecord {
  sentMore: string;
  sentLess: string;
  biasType: string;
}

export interface Loaded<T> {
  file: string;
  sha256: string;
  records: T[];
}

const ROLES = new Set(['system', 'user', 'assistant', 'developer', 'tool']);

function readText(file: string): {text: string; sha256: string} {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw notFoundError(`Eval file ${file} does not exist.`, {fix: 'Try this: check the path (relative paths are from the current directory).'});
  }
  const buf = readFileSync(file);
  return {text: buf.toString('utf8'), sha256: createHash('sha256').update(buf).digest('hex')};
}

const bad = (file: string, line: number, msg: string, fix: string) => inputError(`${file}:${line}: ${msg}`, {fix: `Try this: ${fix}`});

/** Non-empty JSONL lines as objects, with their line numbers. */
function jsonl(file: string, text: string, example: string): Array<{line: number; obj: Record<string, unknown>}> {
  const out: Array<{line: number; obj: Record<string, unknown>}> = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (error) {
      throw bad(file, i + 1, `not valid JSON (${(error as Error).message}).`, `one JSON object per line, like ${example}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(file, i + 1, 'expected a JSON object.', `one object per line, like ${example}`);
    out.push({line: i + 1, obj: v as Record<string, unknown>});
  });
  if (out.length === 0) throw inputError(`${file} has no records.`, {fix: `Try this: one JSON object per line, like ${example}`});
  return out;
}

function nonEmptyString(file: string, line: number, obj: Record<string, unknown>, key: string, example: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw bad(file, line, `"${key}" must be a string, found ${v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 60)}.`, `records like ${example}`);
  if (v.trim() === '') throw bad(file, line, `"${key}" is empty.`, `give "${key}" some text, or remove the record.`);
  return v;
}

function messages(file: string, line: number, v: unknown): ChatMessage[] {
  const ex = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}';
  if (!Array.isArray(v) || v.length === 0) throw bad(file, line, '"messages" must be a non-empty list.', `records like ${ex}`);
  return v.map((m, i) => {
    const r = m as Record<string, unknown>;
    if (!r || typeof r !== 'object' || typeof r.role !== 'string' || !ROLES.has(r.role) || typeof r.content !== 'string') {
      throw bad(file, line, `messages[${i}]: expected {"role": system|user|assistant, "content": string}.`, `records like ${ex}`);
    }
    return {role: r.role as ChatMessage['role'], content: r.content};
  });
}

/** Perplexity texts: JSONL {"text"} or {"messages"} records (a dataset split), or a plain .txt file as one text. */
export function readTexts(file: string): Loaded<TextRecord> {
  const {text, sha256} = readText(file);
  if (file.endsWith('.txt')) {
    if (text.trim() === '') throw inputError(`${file} is empty.`, {fix: 'Try this: a text file with some text, or JSONL {"text": ...} records.'});
    return {file, sha256, records: [{text}]};
  }
  const ex = '{"text": "..."} or {"messages": [...]}';
  const records = jsonl(file, text, ex).map(({line, obj}): TextRecord => {
    if ('messages' in obj) {
      const ms = messages(file, line, obj.messages);
      if (!ms.some((m) => m.role === 'assistant')) throw bad(file, line, 'a chat record without an assistant message has nothing to score.', 'add the assistant reply, or remove the record.');
      return {messages: ms};
    }
    return {text: nonEmptyString(file, line, obj, 'text', ex)};
  });
  return {file, sha256, records};
}

export function readChoices(file: string): Loaded<ChoiceRecord> {
  const {text, sha256} = readText(file);
  const ex = '{"question": "2+2=", "choices": ["3", "4"], "answer": 1}';
  const records = jsonl(file, text, ex).map(({line, obj}) => {
    const question = obj.question;
    if (typeof question !== 'string') throw bad(file, line, `"question" must be a string, found ${question === undefined ? 'nothing' : JSON.stringify(question).slice(0, 60)}.`, `records like ${ex}`);
    const choices = obj.choices;
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
      throw bad(file, line, '"choices" must be a list of at least 2 strings.', `records like ${ex}`);
    }
    choices.forEach((c, i) => {
      if ((c as string).trim() === '') throw bad(file, line, `choices[${i}] is empty.`, 'every choice needs some text.');
    });
    const answer = obj.answer;
    if (typeof answer !== 'number' || !Number.isInteger(answer) || answer < 0 || answer >= choices.length) {
      throw bad(file, line, `"answer" must be the index of the right choice, 0 to ${choices.length - 1}; found ${JSON.stringify(answer)}.`, 'a 0-based index into "choices".');
    }
    return {question, choices: choices as string[], answer};
  });
  return {file, sha256, records};
}

export function readGenerate(file: string): Loaded<GenerateRecord> {
  const {text, sha256} = readText(file);
  const ex = '{"prompt": "Q: 6*7? A:", "answer": "42"}';
  const records = jsonl(file, text, ex).map(({line, obj}): GenerateRecord => {
    const answer = obj.answer;
    const ans = typeof answer === 'number' ? String(answer) : answer;
    if (typeof ans !== 'string' || ans.trim() === '') throw bad(file, line, '"answer" must be a non-empty string (or a number).', `records like ${ex}`);
    if ('messages' in obj) return {messages: messages(file, line, obj.messages), answer: ans};
    return {prompt: nonEmptyString(file, line, obj, 'prompt', ex), answer: ans};
  });
  return {file, sha256, records};
}

/** CrowS-Pairs-style pairs: CSV (a header row) or JSONL, columns sent_more, sent_less and optional bias_type. */
export async function readPairs(file: string): Promise<Loaded<PairRecord>> {
  const {text, sha256} = readText(file);
  const rows = path.extname(file).toLowerCase() === '.csv' ? await csvRows(file, text) : jsonl(file, text, '{"sent_more": "...", "sent_less": "...", "bias_type": "gender"}');
  const records = rows.map(({line, obj}) => {
    for (const key of ['sent_more', 'sent_less']) {
      if (!(key in obj)) throw bad(file, line, `no "${key}" column (found: ${Object.keys(obj).join(', ') || 'none'}).`, 'the CrowS-Pairs columns: sent_more (the more stereotyping sentence), sent_less, and optionally bias_type.');
    }
    const ex = '{"sent_more": "...", "sent_less": "..."}';
    const biasType = typeof obj.bias_type === 'string' && obj.bias_type.trim() !== '' ? obj.bias_type.trim() : 'unspecified';
    return {sentMore: nonEmptyString(file, line, obj, 'sent_more', ex), sentLess: nonEmptyString(file, line, obj, 'sent_less', ex), biasType};
  });
  return {file, sha256, records};
}

async function csvRows(file: string, text: string): Promise<Array<{line: number; obj: Record<string, unknown>}>> {
  const {parse} = await import('csv-parse/sync');
  let rows: Array<{record: Record<string, unknown>; info: {lines: number}}>;
  try {
    rows = parse(text, {columns: true, skip_empty_lines: true, info: true, bom: true, relax_column_count: false}) as never;
  } catch (error) {
    const e = error as Error & {lines?: number};
    throw bad(file, e.lines ?? 1, `not valid CSV (${e.message}).`, 'a header row (sent_more,sent_less,bias_type) and one quoted row per pair.');
  }
  if (rows.length === 0) throw inputError(`${file} has no rows.`, {fix: 'Try this: a header row sent_more,sent_less,bias_type and one row per pair.'});
  return rows.map((r) => ({line: r.info.lines, obj: r.record}));
}
