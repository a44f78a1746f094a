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
import type {ModelFolder} from '../../src/lib/model/folder.js';
import {loadServableModel} from '../../src/lib/serve/model-dir.js';
import {ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {tinyModel} from '../serve/helpers/model.js';
import {exportRandom, makeTokenizerDir, TINY} from '../trainer/hf-helpers.js';
import {harnessWindows} from './helpers/harness.js';

type TJs = typeof import('@huggingface/transformers');
let tjs: TJs;
let ref: {model: any; tok: any};
let spec: ModelFolder;
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
  // Ours reads the original folder (llmops-gpt: texts start with <|bos|>); the copy differs only in config.json's label.
  spec = loadServableModel(modelDir);
  model = await OnnxModel.load(spec, 1);
  scorer = new Scorer(model, ModelTokenizer.fromFolder(spec.dir), {maxRows: 8});
}, 300_000);
afterAll(async () => model?.close());

/** transformers.js: log P(ids[t] | ids[<t]) for t >= from, from one forward pass over `ids`. */
async function refLogprobs(ids: number[], from: number, refModel = ref.model): Promise<number[]> {
  const n = ids.length - 1;
  const input_ids = new tjs.Tensor('int64', BigInt64Array.from(ids.slice(0, n), BigInt), [1, n]);
  const attention_mask = new tjs.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
  const logits = (await refModel({input_ids, attention_mask})).logits;
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
    const tok = ModelTokenizer.fromFolder(spec.dir);
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
    const L = spec.contextLength;
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

describe('against transformers.js on a Hugging Face-format Llama (export_hf.py --random: GQA, BOS added by the tokenizer)', () => {
  let llama: {dir: string; model: OnnxModel; scorer: Scorer; ref: any; bos: number};

  beforeAll(async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'llmops-tjs-llama-'));
    const tokDir = makeTokenizerDir(root);
    const cfgFile = path.join(tokDir, 'tokenizer_config.json');
    writeFileSync(cfgFile, JSON.stringify({...JSON.parse(readFileSync(cfgFile, 'utf8')), add_bos_token: true}));
    const dir = exportRandom(root, 'llama', TINY.llama, tokDir);
    const folder = loadServableModel(dir);
    expect(folder).toMatchObject({family: 'llama', nKvHead: 2, addBos: true});
    const model = await OnnxModel.load(folder, 1);
    tjs.env.localModelPath = root + path.sep;
    const refModel = await tjs.AutoModelForCausalLM.from_pretrained('llama', {dtype: 'fp32', local_files_only: true});
    llama = {dir, model, scorer: new Scorer(model, ModelTokenizer.fromFolder(dir), {maxRows: 8}), ref: refModel, bos: folder.bosId!};
  }, 300_000);
  afterAll(async () => llama?.model.close());

  it('loglikelihood and rolling perplexity (context 128, texts of ~300 tokens) equal transformers.js to 1e-4', async () => {
    const pairs: Array<[string, string]> = [['the cat', ' sat on a mat'], ['', 'the dog ran']];
    const ours = await llama.scorer.loglikelihood(pairs);
    for (const [i, [c, x]] of pairs.entries()) {
      const ctxIds = c === '' ? [llama.bos] : [llama.bos, ...enc(c)];
      const contIds = c === '' ? enc(x) : enc(c + x).slice(ctxIds.length - 1);
      const lps = await refLogprobs([...ctxIds, ...contIds], ctxIds.length, llama.ref);
      expect(Math.abs(ours[i]!.ll - lps.reduce((a, b) => a + b, 0)), `pair ${i}`).toBeLessThan(1e-4);
    }
    const text = 'the cat sat on a mat and the dog ran to the park with a ball. '.repeat(5);
    let ll = 0;
    let tokens = 0;
    for (const [ctx, cont] of harnessWindows(enc(text), llama.bos, 128)) {
      const whole = [...ctx, ...cont].slice(-(128 + 1));
      ll += (await refLogprobs(whole, whole.length - cont.length, llama.ref)).reduce((a, b) => a + b, 0);
      tokens += cont.length;
    }
    const ppl = await perplexity(llama.scorer, [{text}]);
    expect(ppl.tokens).toBe(tokens);
    expect(Math.abs(Math.log(ppl.value) - -ll / tokens)).toBeLessThan(1e-4);
  });
});
