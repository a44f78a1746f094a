/** The scorer on the real exported model (trained by the trainer): batching, rolling windows. */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Scorer} from '../../src/lib/eval/scorer.js';
import {rollingRequests} from '../../src/lib/eval/windows.js';
import {OnnxModel} from '../../src/lib/serve/engine.js';
import type {ModelFolder} from '../../src/lib/model/folder.js';
import {loadServableModel} from '../../src/lib/serve/model-dir.js';
import {ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {tinyModel} from '../serve/helpers/model.js';
import {harnessWindows} from './helpers/harness.js';

let spec: ModelFolder;
let model: OnnxModel;
let tok: ModelTokenizer;

beforeAll(async () => {
  spec = loadServableModel((await tinyModel()).modelDir);
  model = await OnnxModel.load(spec, 1);
  tok = ModelTokenizer.fromFolder(spec.dir);
}, 300_000);
afterAll(async () => model?.close());

describe('rolling windows', () => {
  it('are the harness\'s windows: same tokens fed, same tokens predicted, for every length around the context size', () => {
    for (const L of [4, 7]) {
      for (let n = 1; n <= 3 * L + 2; n++) {
        const tl = Array.from({length: n}, (_, i) => 100 + i);
        const ours = rollingRequests([999, ...tl], L).map((r) => ({fed: r.ids.slice(0, -1), predicted: r.ids.slice(r.from)}));
        const theirs = harnessWindows(tl, 999, L).map(([ctx, cont]) => {
          const whole = [...ctx, ...cont].slice(-(L + 1));
          return {fed: whole.slice(0, -1), predicted: cont};
        });
        expect(ours, `L=${L} n=${n}`).toEqual(theirs);
      }
    }
  });
});

describe('batched scoring', () => {
  it('gives the same log-likelihoods batched (right-padded rows of different lengths) as one request at a time', async () => {
    const pairs: Array<[string, string]> = [
      ['the cat', ' sat on a mat'],
      ['', 'the dog ran to the park with a ball and the cat sat on a mat'],
      ['a', ' b'],
      ['say cat ', 'cat dog'],
      ['the park with a ball', ' and'],
    ];
    const one = await new Scorer(model, tok, {maxRows: 1}).loglikelihood(pairs);
    const batched = await new Scorer(model, tok, {maxRows: 16}).loglikelihood(pairs);
    // A logits budget smaller than one row still scores every request (one row a batch).
    const capped = await new Scorer(model, tok, {maxRows: 16, maxLogitsBytes: 1}).loglikelihood(pairs);
    for (const other of [batched, capped]) {
      expect(other.map((r) => r.tokens)).toEqual(one.map((r) => r.tokens));
      other.forEach((r, i) => expect(Math.abs(r.ll - one[i]!.ll), `pair ${i}`).toBeLessThan(1e-5));
      expect(other.map((r) => r.greedy)).toEqual(one.map((r) => r.greedy));
    }
  });

  it('scores a text longer than the context in windows: the total is that of each window scored on its own', async () => {
    const L = spec.contextLength;
    const text = 'the cat sat on a mat and the dog ran to the park with a ball. '.repeat(Math.ceil((2.5 * L) / 60));
    const s = new Scorer(model, tok, {maxRows: 4});
    const [rolled] = await s.loglikelihoodRolling([text]);
    const ids = [spec.bosId!, ...tok.encode(text)];
    expect(rolled!.tokens).toBe(ids.length - 1);
    let total = 0;
    for (const r of rollingRequests(ids, L)) {
      expect(r.ids.length - 1).toBeLessThanOrEqual(L);
      const [one] = await new Scorer(model, tok, {maxRows: 1}).score([r]);
      total += one!.logprobs.reduce((a, b) => a + b, 0);
    }
    expect(Math.abs(rolled!.ll - total)).toBeLessThan(1e-3);
    expect(rolled!.ll / rolled!.tokens).toBeLessThan(0);
  });
});

describe('the log-softmax in onnxruntime', () => {
  it('gives the JavaScript reference\'s log-probabilities (1e-5) and greedy flags, padded batches and context-only positions included', async () => {
    const pairs: Array<[string, string]> = [
      ['the cat', ' sat on a mat'],
      ['', 'the dog ran to the park with a ball'],
      ['say cat ', 'cat'],
      ['the park with a ball and the dog', ' ran'],
    ];
    const reqs = pairs.map(([c, x]) => ({ids: [spec.bosId!, ...tok.encode(c + x)], from: 1 + tok.encode(c).length}));
    const onnx = new Scorer(model, tok, {maxRows: 4});
    const js = new Scorer(model, tok, {maxRows: 4, head: 'js'});
    const [a, b] = [await onnx.score(reqs), await js.score(reqs)];
    await onnx.close();
    a.forEach((r, i) => {
      expect(r.logprobs).toHaveLength(b[i]!.logprobs.length);
      r.logprobs.forEach((lp, j) => expect(Math.abs(lp - b[i]!.logprobs[j]!), `request ${i} token ${j}`).toBeLessThan(1e-5));
      expect(r.greedy).toEqual(b[i]!.greedy);
    });
    expect(a.some((r) => r.greedy.some(Boolean))).toBe(true);
  });

  it('the head graph written by hand is valid ONNX that onnxruntime loads, with the inputs and outputs it names', async () => {
    const ort = await import('onnxruntime-node');
    const {scoreHeadModel} = await import('../../src/lib/eval/score-head.js');
    const s = await ort.InferenceSession.create(scoreHeadModel());
    expect(s.inputNames).toEqual(['logits', 'target']);
    expect(s.outputNames).toEqual(['logprob', 'argmax']);
    const out = await s.run({logits: new ort.Tensor('float32', Float32Array.from([0, Math.log(3), 1, 1]), [2, 2]), target: new ort.Tensor('int64', BigInt64Array.from([1n, 0n]), [2, 1])});
    expect((out.logprob!.data as Float32Array)[0]).toBeCloseTo(Math.log(3 / 4), 6);
    expect((out.logprob!.data as Float32Array)[1]).toBeCloseTo(Math.log(1 / 2), 6);
    expect([...(out.argmax!.data as BigInt64Array)]).toEqual([1n, 0n]); // a tie: the first index
    await s.release();
  });
});
