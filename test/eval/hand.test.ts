/**
 * Every suite on a model whose numbers can be worked out by hand (a bigram-table ONNX graph, see
 * helpers/bigram.ts): the expected values below come from the table, not from llmops's scorer.
 */
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {readChoices, readPairs, readTexts} from '../../src/lib/eval/data.js';
import {Scorer} from '../../src/lib/eval/scorer.js';
import {choices, generate, normaliseAnswer, pairs, perplexity} from '../../src/lib/eval/suites.js';
import {readGenerate} from '../../src/lib/eval/data.js';
import {OnnxModel} from '../../src/lib/serve/engine.js';
import {loadServableModel} from '../../src/lib/serve/model-dir.js';
import {ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {BOS, buildBigramModel, bytes, chainLl, lp} from './helpers/bigram.js';

let model: OnnxModel;
let scorer: Scorer;
let dir: string;

beforeAll(async () => {
  const spec = loadServableModel(buildBigramModel(8));
  model = await OnnxModel.load(spec, 1);
  scorer = new Scorer(model, ModelTokenizer.fromFolder(spec.dir), {maxRows: 3});
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-eval-hand-'));
}, 60_000);
afterAll(async () => model?.close());

const file = (name: string, lines: unknown[]) => {
  const f = path.join(dir, name);
  writeFileSync(f, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return f;
};

describe('hand-computed values on a bigram model', () => {
  it('perplexity is exp of the mean NLL of every token after BOS, across windows longer than the context, with bits per byte', async () => {
    const texts = ['abc', 'the cat sat on the mat, and then a bat'];
    const r = await perplexity(scorer, readTexts(file('ppl.jsonl', texts.map((text) => ({text})))).records);
    const seqs = texts.map((t) => [BOS, ...bytes(t)]);
    const nll = -seqs.reduce((a, s) => a + chainLl(s), 0);
    const tokens = seqs.reduce((a, s) => a + s.length - 1, 0);
    expect(r.tokens).toBe(tokens);
    expect(r.value).toBeCloseTo(Math.exp(nll / tokens), 5);
    expect(r.bits_per_byte).toBeCloseTo(nll / Math.LN2 / (3 + texts[1]!.length), 5);
  });

  it('scores a chat record on its rendered template, the assistant turn only (content through the template\'s end of turn)', async () => {
    const r = await perplexity(scorer, readTexts(file('chat.jsonl', [{messages: [{role: 'user', content: 'yo'}, {role: 'assistant', content: 'hi'}]}])).records);
    // "<|user|>\nyo<|end|>\n<|assistant|>\nhi<|end|>\n": ids 260 10 y o 262 10 261 10 h i 262 10;
    // the assistant turn is "hi<|end|>" (src/lib/model/sft.ts: through the template's end-of-turn
    // marker, not the newline the template writes after it).
    const nl = 10;
    const expected = lp(nl, 104) + lp(104, 105) + lp(105, 262);
    expect(r.tokens).toBe(3);
    // Relative: the log-softmax runs in float32 (as the model's graph does), about 1e-7 per token.
    expect(Math.abs(r.value / Math.exp(-expected / 3) - 1)).toBeLessThan(1e-6);
  });

  it('multiple choice: acc takes the highest log-likelihood, acc_norm divides it by the choice length in bytes', async () => {
    // After "ab", " c": lp(b,' ') + lp(' ', c). " bcdefgh" is far less likely in total but the
    // next-byte bonus makes it better per byte.
    const q = 'ab';
    const ll = (c: string) => chainLl([BOS, ...bytes(q), ...bytes(' ' + c)]) - chainLl([BOS, ...bytes(q)]);
    const a = ll('zq');
    const b = ll('bcdefgh');
    expect(a).toBeGreaterThan(b);
    expect(a / 2).toBeLessThan(b / 7);
    const r = await choices(scorer, readChoices(file('mc.jsonl', [{question: q, choices: ['zq', 'bcdefgh'], answer: 1}, {question: q, choices: ['zq', 'bcdefgh'], answer: 0}])).records);
    expect(r).toEqual({acc: 0.5, acc_norm: 0.5, n: 2});
  });

  it('pairs: pct_stereotype counts pairs whose sent_more is more likely, with the mean differences, overall and by bias_type', async () => {
    const recs = [
      {sent_more: 'ab', sent_less: 'ba', bias_type: 'x'},
      {sent_more: 'ba', sent_less: 'ab', bias_type: 'x'},
      {sent_more: 'the', sent_less: 'she', bias_type: 'y'},
    ];
    const r = await pairs(scorer, (await readPairs(file('pairs.jsonl', recs))).records);
    const d = recs.map((p) => chainLl([BOS, ...bytes(p.sent_more)]) - chainLl([BOS, ...bytes(p.sent_less)]));
    expect(d[0]).toBeGreaterThan(0);
    expect(d[2]).toBeGreaterThan(0);
    expect(r.n).toBe(3);
    expect(r.pct_stereotype).toBeCloseTo(2 / 3, 10);
    expect(r.mean_diff).toBeCloseTo((d[0]! + d[1]! + d[2]!) / 3, 5);
    expect(r.likelihood_diff).toBeCloseTo((Math.abs(d[0]!) + Math.abs(d[1]!) + Math.abs(d[2]!)) / 3, 5);
    expect(r.by_type.x).toMatchObject({pct_stereotype: 0.5, n: 2});
    expect(r.by_type.y!.pct_stereotype).toBe(1);
    expect(r.by_type.y!.mean_diff).toBeCloseTo(d[2]!, 5);
  });

  it('loglikelihood moves the context\'s trailing space to the continuation, as lm-evaluation-harness does', async () => {
    const [r] = await scorer.loglikelihood([['ab ', 'c']]);
    expect(r!.tokens).toBe(2);
    expect(r!.ll).toBeCloseTo(lp(98, 32) + lp(32, 99), 5);
  });
});

describe('generation on the bigram model (greedy = the next byte value, until the context is full)', () => {
  it('exact match compares the normalised output with the answer, and --extract takes the first group of both', async () => {
    // Context 8: [BOS] "ab" leaves room for 5 tokens: "cdefg".
    const recs = readGenerate(file('gen.jsonl', [{prompt: 'ab', answer: 'CDEFG.'}, {prompt: 'ab', answer: 'cdef'}])).records;
    const r = await generate(scorer, recs);
    expect(r.samples.map((s) => s.output)).toEqual(['cdefg', 'cdefg']);
    expect(r.exact_match).toBe(0.5);
    const ex = await generate(scorer, readGenerate(file('gen2.jsonl', [{prompt: '0', answer: '#### 123'}, {prompt: 'x', answer: '#### 1'}])).records, {extract: /(\d{3})/});
    expect(ex.samples.map((s) => s.extracted)).toEqual(['123', '[no match]']);
    expect(ex.exact_match).toBe(0.5);
  });

  it('normalises case, spaces, "$" and "," in numbers and a final period', () => {
    expect(normaliseAnswer('  The  Answer:\n$1,000. ')).toBe('the answer: 1000');
  });
});

describe('pairs files', () => {
  it('reads the CrowS-Pairs CSV layout: quoted sentences with commas, extra columns ignored, bias_type optional', async () => {
    const f = path.join(dir, 'crows.csv');
    writeFileSync(f, ',sent_more,sent_less,stereo_antistereo,bias_type,annotations\n0,"He said, ""no"".","She said, ""no"".",stereo,gender,[]\n1,a b,b a,stereo,,[]\n');
    const {records} = await readPairs(f);
    expect(records).toEqual([
      {sentMore: 'He said, "no".', sentLess: 'She said, "no".', biasType: 'gender'},
      {sentMore: 'a b', sentLess: 'b a', biasType: 'unspecified'},
    ]);
  });
});

describe('bad eval input', () => {
  it('a pairs CSV without the sent_less column names the file, the line and the columns expected', async () => {
    const f = path.join(dir, 'bad.csv');
    writeFileSync(f, 'sent_more,other\n"a b",c\n');
    await expect(readPairs(f)).rejects.toThrow(new RegExp(`${f.replaceAll('.', '\\.')}:2: no "sent_less" column \\(found: sent_more, other\\)`));
  });

  it('an empty sentence in a pairs JSONL is refused with its line number', async () => {
    const f = file('empty.jsonl', [{sent_more: 'a', sent_less: 'b'}, {sent_more: '  ', sent_less: 'b'}]);
    await expect(readPairs(f)).rejects.toMatchObject({exitCode: 4, message: expect.stringContaining(`${f}:2: "sent_more" is empty`)});
  });

  it('a choices record whose answer index is out of range is refused with its line number', () => {
    const f = file('oob.jsonl', [{question: 'q', choices: ['a', 'b'], answer: 1}, '', {question: 'q', choices: ['a', 'b'], answer: 2}]);
    expect(() => readChoices(f)).toThrow(`${f}:3: "answer" must be the index of the right choice, 0 to 1; found 2.`);
  });

  it('an empty text in a perplexity file is refused with its line number', () => {
    const f = file('empty-text.jsonl', [{text: 'ok'}, {text: ''}]);
    expect(() => readTexts(f)).toThrow(`${f}:2: "text" is empty.`);
  });
});
