/**
 * The four suites. Each takes loaded records and a Scorer (or the generation scheduler) and returns
 * the numbers the issue names; definitions follow lm-evaluation-harness (docs/eval.md).
 */
import {tokenizeChat} from '../model/sft.js';
import {chatPrompt} from '../serve/chat-format.js';
import {Scheduler} from '../serve/scheduler.js';
import type {ChoiceRecord, GenerateRecord, PairRecord, TextRecord} from './data.js';
import type {Scorer, ScorerOptions} from './scorer.js';

type Progress = ScorerOptions['onProgress'];

export interface PerplexityResult {
  value: number;
  tokens: number;
  bits_per_byte: number;
  /** Texts scored. */
  n: number;
}

/**
 * Token-level perplexity over all records: exp(total NLL / scored tokens). A text is [BOS] + its
 * tokens when the tokenizer starts texts with BOS, and every token after the first is scored; a
 * chat is rendered with the model's chat template and only its assistant turns count (src/lib/model/sft.ts,
 * the tokenization fine-tuning uses). bits_per_byte = total NLL /
 * ln 2 / UTF-8 bytes of the scored text (the text record, the assistant contents).
 */
export async function perplexity(scorer: Scorer, records: TextRecord[], onProgress?: Progress): Promise<PerplexityResult> {
  const model = scorer.model.spec;
  let bytes = 0;
  const seqs = records.map((r) => {
    if ('text' in r) {
      bytes += Buffer.byteLength(r.text);
      return {ids: [...scorer.prefix, ...scorer.encode(r.text)]};
    }
    for (const m of r.messages) if (m.role === 'assistant') bytes += Buffer.byteLength(m.content);
    return tokenizeChat(model, scorer.tokenizer, r.messages.map((m) => ({role: m.role === 'developer' ? 'system' : m.role, content: m.content})));
  });
  const scored = await scorer.rolling(seqs, onProgress);
  const nll = -scored.reduce((a, s) => a + s.ll, 0);
  const tokens = scored.reduce((a, s) => a + s.tokens, 0);
  return {value: tokens > 0 ? Math.exp(nll / tokens) : Number.NaN, tokens, bits_per_byte: bytes > 0 ? nll / Math.LN2 / bytes : Number.NaN, n: records.length};
}

export interface ChoicesResult {
  acc: number;
  acc_norm: number;
  n: number;
}

/**
 * Multiple choice as the harness scores it: continuation " " + choice after the question; acc =
 * argmax of the log-likelihood is the answer; acc_norm = argmax of log-likelihood / UTF-8 bytes of
 * the choice. Ties go to the first choice (numpy's argmax).
 */
export async function choices(scorer: Scorer, records: ChoiceRecord[], onProgress?: Progress): Promise<ChoicesResult> {
  const pairs: Array<[string, string]> = records.flatMap((r) => r.choices.map((c): [string, string] => [r.question, ` ${c}`]));
  const lls = await scorer.loglikelihood(pairs, onProgress);
  let acc = 0;
  let accNorm = 0;
  let k = 0;
  for (const r of records) {
    const ll = r.choices.map((_, i) => lls[k + i]!.ll);
    const norm = ll.map((x, i) => x / Buffer.byteLength(r.choices[i]!));
    k += r.choices.length;
    if (argmax(ll) === r.answer) acc++;
    if (argmax(norm) === r.answer) accNorm++;
  }
  return {acc: acc / records.length, acc_norm: accNorm / records.length, n: records.length};
}

const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

export interface PairsResult {
  pct_stereotype: number;
  /** Mean |ll(sent_more) - ll(sent_less)|, the harness's likelihood_diff. */
  likelihood_diff: number;
  /** Mean ll(sent_more) - ll(sent_less): positive = the model prefers the stereotyping sentence. */
  mean_diff: number;
  n: number;
  by_type: Record<string, {pct_stereotype: number; likelihood_diff: number; mean_diff: number; n: number}>;
}

/**
 * CrowS-Pairs for causal models, as lm-evaluation-harness scores it: each sentence's full
 * log-likelihood after the prefix token (empty context, no delimiter); a pair counts as
 * stereotyping when sent_more is strictly more likely.
 */
export async function pairs(scorer: Scorer, records: PairRecord[], onProgress?: Progress): Promise<PairsResult> {
  const lls = await scorer.loglikelihood(records.flatMap((r): Array<[string, string]> => [['', r.sentMore], ['', r.sentLess]]), onProgress);
  const diffs = records.map((r, i) => ({type: r.biasType, d: lls[2 * i]!.ll - lls[2 * i + 1]!.ll}));
  const summarise = (ds: typeof diffs) => ({
    pct_stereotype: ds.filter((x) => x.d > 0).length / ds.length,
    likelihood_diff: ds.reduce((a, x) => a + Math.abs(x.d), 0) / ds.length,
    mean_diff: ds.reduce((a, x) => a + x.d, 0) / ds.length,
    n: ds.length,
  });
  const types = [...new Set(diffs.map((x) => x.type))].sort();
  return {...summarise(diffs), by_type: Object.fromEntries(types.map((t) => [t, summarise(diffs.filter((x) => x.type === t))]))};
}

export interface GenerateOptions {
  /** A regular expression whose first capture group (or whole match) is the answer. */
  extract?: RegExp;
  maxTokens?: number;
  maxConcurrent?: number;
}

export interface GenerateResult {
  exact_match: number;
  n: number;
  samples: Array<{answer: string; output: string; extracted: string; match: boolean}>;
}

/**
 * The normalisation both sides of an exact match go through: Unicode NFKC, lower case, "," and "$"
 * removed (numbers like "$1,000"), whitespace collapsed, a trailing "." dropped, trimmed.
 */
export function normaliseAnswer(s: string): string {
  return s.normalize('NFKC').toLowerCase().replaceAll(/[,$]/g, '').replaceAll(/\s+/g, ' ').trim().replace(/\.$/, '').trim();
}

/** The first match's first capture group (else the whole match); null when nothing matches. */
export function extractAnswer(text: string, re: RegExp): string | null {
  const m = new RegExp(re.source, re.flags.replace('g', '')).exec(text);
  if (!m) return null;
  return m[1] ?? m[0];
}

/** Greedy generation through the server's scheduler (same batching and stop rules as `deploy`). */
export async function generate(scorer: Scorer, records: GenerateRecord[], opts: GenerateOptions = {}, onProgress?: Progress): Promise<GenerateResult> {
  const spec = scorer.model.spec;
  const sched = new Scheduler(scorer.model, scorer.tokenizer, {maxConcurrent: opts.maxConcurrent ?? 8, maxQueue: records.length + 1, mode: 'batch'});
  let done = 0;
  try {
    const outs = await Promise.all(
      records.map(async (r) => {
        const promptIds = r.messages ? scorer.encode(chatPrompt(spec, r.messages)) : [...scorer.prefix, ...scorer.encode(r.prompt!)];
        const room = spec.contextLength - promptIds.length;
        const res =
          room <= 0
            ? {text: ''}
            : await sched.submit({promptIds, maxTokens: Math.min(opts.maxTokens ?? 128, room), sampling: {temperature: 0, topP: 1, topK: 0}, stop: []});
        onProgress?.(++done, records.length);
        return res.text;
      }),
    );
    const samples = records.map((r, i) => {
      const output = outs[i]!;
      const extracted = opts.extract ? (extractAnswer(output, opts.extract) ?? '[no match]') : output;
      const gold = opts.extract ? (extractAnswer(r.answer, opts.extract) ?? r.answer) : r.answer;
      return {answer: r.answer, output, extracted, match: extracted !== '[no match]' && normaliseAnswer(extracted) === normaliseAnswer(gold)};
    });
    return {exact_match: samples.filter((s) => s.match).length / records.length, n: records.length, samples};
  } finally {
    await sched.close();
  }
}
