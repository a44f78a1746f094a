/**
 * Our log-likelihoods and perplexity against transformers.js (@huggingface/transformers, offline)
 * running the same ONNX graph on the same folder: llmops's own export, which has GPT-2's graph
 * layout (input_ids, attention_mask, position_ids, past_key_values.i.key|value; head_dim =
 * n_embd / n_head) and is loaded by transformers.js when config.json says model_type "gpt2".
 */
import {cpSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Scorer} from '../../src/lib/eval/scorer.js';
import {perplexity} from '../../src/lib/eval/suites.js';
import {OnnxModel} from '../../src/lib/serve/engine.js';
import {loadModelSpec, type ModelSpec} from '../../src/lib/serve/model-dir.js';
import {ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {tinyModel} from '../serve/helpers/model.js';
import {harnessWindows} from './helpers/harness.js';

type TJs = typeof import('@huggingface/transformers');
let tjs: TJs;
let ref: {model: any; tok: any};
let spec: ModelSpec;
let model: OnnxModel;
let scorer: Scorer;

beforeAll(async () => {
  const {modelDir} = await tinyModel();
  const root = mkdtempSync(path.join(os.tmpdir(), 'llmops-tjs-'));
  const dir = path.join(root, 'tiny');
  cpSync(modelDir, dir, {recursive: true});
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({...cfg, model_type: 'gpt2', architectures: ['GPT2LMHeadModel']}));
  tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = root + path.sep;
  ref = {
    model: await tjs.AutoModelForCausalLM.from_pretrained('tiny', {dtype: 'fp32', local_files_only: true}),
    tok: await tjs.AutoTokenizer.from_pretrained('tiny', {local_files_only: true}),
  };
  spec = loadModelSpec(dir);
  model = await OnnxModel.load(spec, 1);
  scorer = new Scorer(model, new ModelTokenizer(spec), {maxRows: 8});
}, 300_000);
afterAll(async () => model?.close());

/** transformers.js: log P(ids[t] | ids[<t]) for t >= from, from one forward pass over `ids`. */
async function refLogprobs(ids: number[], from: number): Promise<number[]> {
  const n = ids.length - 1;
  const input_ids = new tjs.Tensor('int64', BigInt64Array.from(ids.slice(0, n), BigInt), [1, n]);
  const attention_mask = new tjs.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
  const logits = (await ref.model({input_ids, attention_mask})).logits;
  const V = logits.dims[2];
  const data = logits.data as Float32Array;
  const out: number[] = [];
  for (let t = from; t <= n; t++) {
    const row = data.subarray((t - 1) * V, t * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    out.push(row[ids[t]!]! - lse);
  }
  return out;
}

const enc = (s: string): number[] => ref.tok.encode(s, {add_special_tokens: false});

describe('against transformers.js on the same folder', () => {
  it('tokenizes as transformers.js does', () => {
    const tok = new ModelTokenizer(spec);
    for (const s of ['the cat sat', 'héllo wörld ✓', '<|user|>\nhi<|end|>']) expect(tok.encode(s)).toEqual(enc(s));
  });

  it('loglikelihood(context, continuation) equals transformers.js to 1e-4', async () => {
    const pairs: Array<[string, string]> = [['the cat', ' sat on a mat'], ['', 'the dog ran'], ['say cat ', 'cat dog'], ['a', ' ball']];
    const ours = await scorer.loglikelihood(pairs);
    for (const [i, [c, x]] of pairs.entries()) {
      const ctx = c.trimEnd();
      const cont = c.slice(ctx.length) + x;
      const ctxIds = ctx === '' ? [spec.bosId!] : [spec.bosId!, ...enc(ctx)];
      const contIds = ctx === '' ? enc(cont) : enc(ctx + cont).slice(ctxIds.length - 1);
      const lps = await refLogprobs([...ctxIds, ...contIds], ctxIds.length);
      expect(Math.abs(ours[i]!.ll - lps.reduce((a, b) => a + b, 0)), `pair ${i}`).toBeLessThan(1e-4);
    }
  });

  it('rolling log-likelihood and perplexity of texts longer than the context equal transformers.js to 1e-4', async () => {
    const L = spec.nPositions;
    const texts = ['the cat sat on a mat and the dog ran to the park with a ball. '.repeat(Math.ceil((2.3 * L) / 60)), 'a short one'];
    let nll = 0;
    let tokens = 0;
    const perText: number[] = [];
    for (const t of texts) {
      let ll = 0;
      for (const [ctx, cont] of harnessWindows(enc(t), spec.bosId!, L)) {
        const whole = [...ctx, ...cont].slice(-(L + 1));
        ll += (await refLogprobs(whole, whole.length - cont.length)).reduce((a, b) => a + b, 0);
        tokens += cont.length;
      }
      perText.push(ll);
      nll -= ll;
    }
    const ours = await scorer.loglikelihoodRolling(texts);
    ours.forEach((r, i) => expect(Math.abs(r.ll - perText[i]!), `text ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(perText[i]!) / 100)));
    const ppl = await perplexity(scorer, texts.map((text) => ({text})));
    expect(ppl.tokens).toBe(tokens);
    expect(Math.abs(ppl.value / Math.exp(nll / tokens) - 1)).toBeLessThan(1e-4);
  });
});
