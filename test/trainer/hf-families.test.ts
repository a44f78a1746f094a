import {spawnSync} from 'node:child_process';
import {readFileSync, existsSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {checkParity} from '../../src/lib/runtime/parity.js';
import {PYTHON, TRAINER_DIR, tempDir} from './helpers.js';
import {
  TINY, exportAndReferenceMany, hasTransformers, makeTokenizerDir, maxAbsDiff, tokenizeWithTransformersJs,
  torchReference, transformersJs,
} from './hf-helpers.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const PROMPT = '<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n';
const NEW = 8;

// longrope factors, one per rotary frequency (12 rotary dims of phi3's 16: 6 frequencies).
const LONGROPE = {rope_type: 'longrope', short_factor: [1, 1.2, 1.5, 2, 3, 4], long_factor: [1, 2, 4, 8, 12, 16]};

const CASES: Array<{name: string; config: object; dtype: 'fp32' | 'fp16'; tol: number; onnx: string; independent?: boolean}> = [
  {name: 'llama-gqa-untied', config: TINY.llama, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx'},
  {name: 'llama-tied-rope-llama3', dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', config: {...TINY.llama, tie_word_embeddings: true,
    rope_scaling: {rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16}}},
  // Past the trained context (16) so the dynamic NTK base actually grows, in the trace as in torch.
  {name: 'llama-rope-dynamic', dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', config: {...TINY.llama, max_position_embeddings: 16,
    rope_scaling: {rope_type: 'dynamic', factor: 2}}},
  {name: 'qwen2-rope-linear', dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', config: {...TINY.llama, model_type: 'qwen2',
    rope_scaling: {type: 'linear', factor: 4}}},
  {name: 'gpt2-tied', config: TINY.gpt2, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx'},
  {name: 'qwen2-qkv-bias', config: {...TINY.llama, model_type: 'qwen2', tie_word_embeddings: true}, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx'},
  {name: 'mistral-sliding-window', config: {...TINY.llama, model_type: 'mistral', sliding_window: 8}, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx'},
  {name: 'qwen3-qk-norm', config: {...TINY.llama, model_type: 'qwen3', head_dim: 32}, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx'},
  // The prompt has 18 tokens: a window of 8 (phi3, every layer) or 4 (gemma2, even layers) cuts into it.
  {name: 'phi3-partial-rotary-window', config: {...TINY.phi3, sliding_window: 8}, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', independent: true},
  // The original context (8) is shorter than the prompt, so the long factors and the attention factor
  // sqrt(1 + ln(128/8) / ln 8) apply to the prompt and every generated token alike.
  {name: 'phi3-longrope-tied', dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', independent: true,
    config: {...TINY.phi3, tie_word_embeddings: true, original_max_position_embeddings: 8, rope_scaling: LONGROPE}},
  {name: 'gemma-head-dim-24', config: TINY.gemma, dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', independent: true},
  {name: 'gemma2-softcaps-window', dtype: 'fp32', tol: 1e-4, onnx: 'model.onnx', independent: true, config: {...TINY.gemma,
    model_type: 'gemma2', query_pre_attn_scalar: 20, attn_logit_softcapping: 1.5, final_logit_softcapping: 2.0, sliding_window: 4}},
  // fp16: the graph returns float16 logits, so the tolerance is float16's rounding of logits near 1.
  {name: 'llama-fp16', config: TINY.llama, dtype: 'fp16', tol: 2e-2, onnx: 'model_fp16.onnx'},
  {name: 'gemma2-fp16', config: {...TINY.gemma, model_type: 'gemma2', query_pre_attn_scalar: 20, attn_logit_softcapping: 1.5,
    final_logit_softcapping: 2.0, sliding_window: 4}, dtype: 'fp16', tol: 2e-2, onnx: 'model_fp16.onnx'},
];

describe('trainer: Hugging Face families written by export_hf.py load in transformers.js', () => {
  const root = tempDir('llmops-hf-families-');
  let tok = '';
  let ids: number[] = [];
  let ours: ReturnType<typeof exportAndReferenceMany> = {};

  beforeAll(async () => {
    tok = makeTokenizerDir(root);
    ids = await tokenizeWithTransformersJs(tok, PROMPT);
    ours = exportAndReferenceMany(root, tok, ids, NEW, CASES);
  }, 300_000);

  for (const c of CASES) {
    it(`${c.name} (${c.dtype}): transformers.js logits and greedy tokens equal our torch forward`, {timeout: 60_000}, async () => {
      const {dir, logits, greedy} = ours[c.name]!;
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', `onnx/${c.onnx}`]) {
        expect(existsSync(path.join(dir, f)), f).toBe(true);
      }
      const cfg = readJson(path.join(dir, 'config.json'));
      expect(cfg.model_type).toBe((c.config as {model_type: string}).model_type);
      expect(cfg.vocab_size).toBe(263);
      expect(cfg.torch_dtype).toBe(c.dtype === 'fp16' ? 'float16' : 'float32');
      expect(readJson(path.join(dir, 'tokenizer_config.json')).chat_template).toContain('<|end|>');

      const js = await transformersJs(dir, PROMPT, c.dtype, NEW);
      expect(js.ids).toEqual(ids);
      const diff = maxAbsDiff(js.logits, logits);
      console.log(`${c.name} ${c.dtype}: max |transformers.js - torch| = ${diff.toExponential(2)} over ${ids.length}x263 logits`);
      expect(diff).toBeLessThan(c.tol);
      expect(js.greedy.length).toBeGreaterThan(0);
      expect(js.greedy).toEqual(greedy.slice(0, js.greedy.length));

      // Our own onnxruntime-node check (empty cache, and through the cache) agrees.
      const parity = await checkParity(dir);
      expect(parity.ok, JSON.stringify(parity.samples)).toBe(true);
    });
  }

  // transformers.js runs our own graph; the family's math is checked here against a forward written
  // from its definition with plain torch ops (test/fixtures/hf_family_reference.py) on the same weights.
  for (const c of CASES.filter((k) => k.independent)) {
    it(`${c.name}: our torch forward equals an independent plain-torch forward of the family's definition`, () => {
      const {logits, independent} = ours[c.name]!;
      const diff = maxAbsDiff(independent!.logits, logits);
      console.log(`${c.name}: max |independent reference - ours| = ${diff.toExponential(2)} over ${ids.length}x263 logits`);
      expect(diff).toBeLessThan(1e-4);
    });
  }

  it('a sharded bf16 checkpoint (model.safetensors.index.json) is written and read back without the safetensors package', {timeout: 60_000}, () => {
    const src = ours['llama-gqa-untied']!.dir;
    const out = path.join(root, 'sharded-bf16');
    const py = `import sys, torch; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from hf_models import load_pretrained, save_pretrained
m, _ = load_pretrained(sys.argv[1])
save_pretrained(m, sys.argv[2], dtype="bfloat16", max_shard_bytes=60000)
with torch.no_grad():
    for p in m.parameters(): p.copy_(p.bfloat16().float())
m2, _ = load_pretrained(sys.argv[2])
ids = torch.arange(20)[None]
print(float((m(ids)[0] - m2(ids)[0]).abs().max()))`;
    const r = spawnSync(PYTHON, ['-c', py, src, out], {encoding: 'utf8'});
    expect(r.status, r.stderr).toBe(0);
    expect(Number(r.stdout.trim())).toBe(0);
    const index = readJson(path.join(out, 'model.safetensors.index.json'));
    const shards = readdirSync(out).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    // The format read independently here: u64 header length, JSON header, BF16 tensors.
    const buf = readFileSync(path.join(out, shards[0]!));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const tensors = Object.entries(header).filter(([k]) => k !== '__metadata__') as Array<[string, {dtype: string; shape: number[]; data_offsets: number[]}]>;
    for (const [, t] of tensors) {
      expect(t.dtype).toBe('BF16');
      expect(t.data_offsets[1]! - t.data_offsets[0]!).toBe(2 * t.shape.reduce((a, b) => a * b, 1));
    }
    expect(8 + n + Math.max(...tensors.map(([, t]) => t.data_offsets[1]!))).toBe(buf.length);
    expect(readJson(path.join(out, 'config.json')).torch_dtype).toBe('bfloat16');
  });

  it('a phi3/gemma/gemma2 config the trainer cannot follow is an error naming the file and the key', {timeout: 60_000}, () => {
    const bad = [
      {...TINY.phi3, rope_scaling: {...LONGROPE, long_factor: [1, 2, 4]}},
      {...TINY.phi3, rope_scaling: {rope_type: 'yarn', factor: 4}},
      {...TINY.gemma, model_type: 'gemma2', layer_types: ['sliding_attention']},
      {...TINY.gemma, hidden_activation: 'relu'},
    ];
    const py = `import json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from hf_models import parse_config
out = []
for d in json.loads(sys.argv[1]):
    d["vocab_size"] = 263
    try:
        parse_config(d, "cfg/config.json"); out.append(None)
    except ValueError as e:
        out.append(str(e))
print(json.dumps(out))`;
    const r = spawnSync(PYTHON, ['-c', py, JSON.stringify(bad)], {encoding: 'utf8'});
    expect(r.status, r.stderr).toBe(0);
    const [longrope, yarn, layerTypes, act] = JSON.parse(r.stdout) as string[];
    expect(longrope).toBe('cfg/config.json: rope_scaling.long_factor must be a list of 6 numbers (one per rotary frequency: head_dim 16 x partial_rotary_factor 0.75 / 2)');
    expect(yarn).toBe('cfg/config.json: rope_scaling type "yarn" is not supported by the llmops trainer (supported: default, linear, dynamic, llama3, longrope)');
    expect(layerTypes).toContain('cfg/config.json: layer_types must list one of sliding_attention/full_attention per layer (2 layers)');
    expect(act).toContain('hidden_activation "relu" is not supported');
  });

  it('published configs parse as their models define them: gemma-2-2b-it, Phi-3-mini 4k and 128k (its first "su" name for longrope), rope_theta under rope_scaling', {timeout: 60_000}, () => {
    // Key sets as the model repositories publish them (gemma-2-2b-it: google's config.json; Phi-3-mini-4k/128k-instruct:
    // microsoft's, the 128k one with its 48 long/short factors, here ones), and a converter's Gemma 2 that writes
    // transformers 5's rope parameters under rope_scaling.
    const phi3 = {architectures: ['Phi3ForCausalLM'], bos_token_id: 1, eos_token_id: 32000, hidden_act: 'silu', hidden_size: 3072,
      intermediate_size: 8192, max_position_embeddings: 4096, model_type: 'phi3', num_attention_heads: 32, num_hidden_layers: 32,
      num_key_value_heads: 32, original_max_position_embeddings: 4096, pad_token_id: 32000, rms_norm_eps: 1e-5, rope_scaling: null,
      rope_theta: 10000.0, sliding_window: 2047, tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 32064};
    const configs = [
      {architectures: ['Gemma2ForCausalLM'], attention_bias: false, attn_logit_softcapping: 50.0, bos_token_id: 2, cache_implementation: 'hybrid',
        eos_token_id: [1, 107], final_logit_softcapping: 30.0, head_dim: 256, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh',
        hidden_size: 2304, intermediate_size: 9216, max_position_embeddings: 8192, model_type: 'gemma2', num_attention_heads: 8,
        num_hidden_layers: 26, num_key_value_heads: 4, pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_theta: 10000.0,
        sliding_window: 4096, torch_dtype: 'bfloat16', vocab_size: 256000},
      phi3,
      {...phi3, max_position_embeddings: 131072, rope_scaling: {type: 'su', long_factor: Array(48).fill(1), short_factor: Array(48).fill(1)}},
      {...TINY.gemma, model_type: 'gemma2', vocab_size: 263, rope_scaling: {rope_theta: 500000.0, rope_type: 'default'}},
    ];
    const py = `import json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from hf_models import parse_config
out = []
for d in json.loads(sys.argv[1]):
    c = parse_config(d, "config.json")
    out.append([c.family, c.n_kv_head, c.head_dim, c.sliding_window, c.rope_theta, (c.rope_scaling or {}).get("rope_type"), c.activation])
print(json.dumps(out))`;
    const r = spawnSync(PYTHON, ['-c', py, JSON.stringify(configs)], {encoding: 'utf8'});
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      ['gemma2', 4, 256, 4096, 10000, null, 'gelu_tanh'],
      ['phi3', 32, 96, 2047, 10000, null, 'silu'],
      ['phi3', 32, 96, 2047, 10000, 'longrope', 'silu'],
      ['gemma2', 2, 24, 4096, 500000, null, 'gelu_tanh'],
    ]);
  });

  const VS_TRANSFORMERS = ['llama-gqa-untied', 'phi3-partial-rotary-window', 'phi3-longrope-tied', 'gemma-head-dim-24', 'gemma2-softcaps-window'];
  it.skipIf(!hasTransformers())('our llama, phi3, gemma and gemma2 forwards equal transformers\' on the same checkpoints (skipped: transformers is not importable by this Python)', {timeout: 120_000}, () => {
    for (const name of VS_TRANSFORMERS) {
      const r = torchReference(ours[name]!.dir, ids, 0, true);
      console.log(`${name}: max |transformers - ours| = ${r.transformers_max_abs_diff}`);
      expect(r.transformers_max_abs_diff!, name).toBeLessThan(1e-4);
    }
  });
});
