import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {FAMILIES, loadModelFolder} from '../../src/lib/model/folder.js';
import {LlmopsError} from '../../src/lib/errors.js';

function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-folder-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

// The architecture keys of public checkpoints' config.json files, as published.
const CONFIGS: Record<string, {config: Record<string, unknown>; expect: Record<string, number>}> = {
  'SmolLM2-135M (llama, GQA 9/3, head_dim)': {
    config: {model_type: 'llama', num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, hidden_size: 576, head_dim: 64, max_position_embeddings: 8192, vocab_size: 49152, bos_token_id: 0, eos_token_id: 0},
    expect: {nLayer: 30, nHead: 9, nKvHead: 3, headDim: 64, hidden: 576, contextLength: 8192, vocabSize: 49152},
  },
  'Qwen2.5-0.5B (qwen2, GQA 14/2)': {
    config: {model_type: 'qwen2', num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, hidden_size: 896, max_position_embeddings: 32768, vocab_size: 151936},
    expect: {nLayer: 24, nHead: 14, nKvHead: 2, headDim: 64, hidden: 896, contextLength: 32768, vocabSize: 151936},
  },
  'Qwen3-0.6B (qwen3, head_dim != hidden/heads)': {
    config: {model_type: 'qwen3', num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, hidden_size: 1024, head_dim: 128, max_position_embeddings: 40960, vocab_size: 151936},
    expect: {nLayer: 28, nHead: 16, nKvHead: 8, headDim: 128, hidden: 1024, contextLength: 40960, vocabSize: 151936},
  },
  'Mistral-7B-v0.1 (mistral, GQA 32/8)': {
    config: {model_type: 'mistral', num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, hidden_size: 4096, max_position_embeddings: 32768, vocab_size: 32000},
    expect: {nLayer: 32, nHead: 32, nKvHead: 8, headDim: 128, contextLength: 32768},
  },
  'Phi-3-mini-4k (phi3, MHA)': {
    config: {model_type: 'phi3', num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, hidden_size: 3072, max_position_embeddings: 4096, vocab_size: 32064},
    expect: {nLayer: 32, nHead: 32, nKvHead: 32, headDim: 96, contextLength: 4096, vocabSize: 32064},
  },
  'gemma-2b (gemma, MQA, head_dim 256)': {
    config: {model_type: 'gemma', num_hidden_layers: 18, num_attention_heads: 8, num_key_value_heads: 1, hidden_size: 2048, head_dim: 256, max_position_embeddings: 8192, vocab_size: 256000},
    expect: {nLayer: 18, nHead: 8, nKvHead: 1, headDim: 256},
  },
  'gemma-2-2b (gemma2)': {
    config: {model_type: 'gemma2', num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4, hidden_size: 2304, head_dim: 256, max_position_embeddings: 8192, vocab_size: 256000},
    expect: {nLayer: 26, nHead: 8, nKvHead: 4, headDim: 256},
  },
  'gpt2 (n_layer, n_head, n_embd, n_positions)': {
    config: {model_type: 'gpt2', n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, n_ctx: 1024, vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256},
    expect: {nLayer: 12, nHead: 12, nKvHead: 12, headDim: 64, hidden: 768, contextLength: 1024, vocabSize: 50257},
  },
  "llmops-gpt (llmops's own export)": {
    config: {model_type: 'llmops-gpt', n_layer: 2, n_head: 4, n_embd: 64, head_dim: 16, n_positions: 128, vocab_size: 263},
    expect: {nLayer: 2, nHead: 4, nKvHead: 4, headDim: 16, contextLength: 128, vocabSize: 263},
  },
};

describe('loadModelFolder: config.json of every supported family, in its own keys', () => {
  for (const [name, c] of Object.entries(CONFIGS)) {
    it(name, () => {
      const m = loadModelFolder(folder({'config.json': c.config}));
      expect(m.family).toBe(c.config.model_type);
      expect(m).toMatchObject(c.expect);
      expect(m.onnxPath).toBeNull();
    });
  }

  it('an unsupported model_type is an input error naming it and the supported families', () => {
    const dir = folder({'config.json': {model_type: 'bert', num_hidden_layers: 2}});
    try {
      loadModelFolder(dir);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LlmopsError);
      expect((error as LlmopsError).exitCode).toBe(4);
      expect((error as Error).message).toContain('model_type "bert" is not supported');
      for (const f of FAMILIES) expect((error as Error).message).toContain(f);
      expect((error as Error).message).toContain(path.join(dir, 'config.json'));
    }
  });

  it('a missing or malformed key names the file and the key', () => {
    expect(() => loadModelFolder(folder({'config.json': {model_type: 'llama', num_hidden_layers: 2, hidden_size: 64, vocab_size: 10, max_position_embeddings: 8}}))).toThrow(
      /config\.json: missing key "num_attention_heads"/,
    );
    expect(() => loadModelFolder(folder({'config.json': {model_type: 'gpt2', n_layer: '2', n_head: 2, n_embd: 8, n_positions: 8, vocab_size: 10}}))).toThrow(
      /key "n_layer" must be a positive integer, found "2"/,
    );
    expect(() => loadModelFolder(folder({'config.json': '{not json'}))).toThrow(/config\.json is not valid JSON/);
    expect(() => loadModelFolder(folder({}))).toThrow(/has no config\.json and no onnx\/model\.onnx/);
  });
});

describe('loadModelFolder: ONNX graph, special tokens, chat template', () => {
  const base = {model_type: 'llama', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_size: 64, max_position_embeddings: 128, vocab_size: 100};

  it('picks fp32 first for a CPU, then 8-bit, 4-bit, fp16; --dtype picks a variant; external data is listed', () => {
    const dir = folder({'config.json': base, 'onnx/model.onnx': '', 'onnx/model.onnx_data': '', 'onnx/model_fp16.onnx': '', 'onnx/model_fp16.onnx_data': '', 'onnx/model_q4.onnx': ''});
    const m = loadModelFolder(dir);
    expect([m.dtype, m.onnxPath]).toEqual(['fp32', path.join(dir, 'onnx', 'model.onnx')]);
    expect(m.onnxDataPaths).toEqual([path.join(dir, 'onnx', 'model.onnx_data')]);
    expect(m.dtypes).toEqual(['fp32', 'q4', 'fp16']);
    const f16 = loadModelFolder(dir, {dtype: 'fp16'});
    expect([f16.dtype, path.basename(f16.onnxPath!), f16.onnxDataPaths.map((p) => path.basename(p))]).toEqual(['fp16', 'model_fp16.onnx', ['model_fp16.onnx_data']]);
    expect(loadModelFolder(folder({'config.json': base, 'onnx/model_q4.onnx': '', 'onnx/model_fp16.onnx': ''})).dtype).toBe('q4');
    expect(loadModelFolder(folder({'config.json': base, 'onnx/model_quantized.onnx': ''}), {dtype: 'quantized'}).dtype).toBe('q8');
    expect(() => loadModelFolder(dir, {dtype: 'int8'})).toThrow(/has no int8 graph \(onnx\/model_int8\.onnx\); it has fp32, q4, fp16/);
    expect(() => loadModelFolder(dir, {dtype: 'fp8'})).toThrow(/not a known ONNX dtype/);
  });

  it("optimum's layout (model.onnx + model.onnx.data at the folder root) is found too", () => {
    const dir = folder({'config.json': base, 'model.onnx': '', 'model.onnx.data': ''});
    const m = loadModelFolder(dir);
    expect(m.onnxPath).toBe(path.join(dir, 'model.onnx'));
    expect(m.onnxDataPaths).toEqual([path.join(dir, 'model.onnx.data')]);
  });

  it('EOS ids are the union of generation_config.json, config.json and the tokenizer eos token', () => {
    const dir = folder({
      'config.json': {...base, bos_token_id: 1, eos_token_id: 2},
      'generation_config.json': {eos_token_id: [7, 2]},
      'tokenizer_config.json': {bos_token: {content: '<s>'}, eos_token: '<|eot|>', add_bos_token: true},
      'tokenizer.json': {added_tokens: [{id: 9, content: '<|eot|>', special: true}], model: {type: 'BPE', vocab: {'<s>': 1}}},
    });
    const m = loadModelFolder(dir);
    expect(m.eosIds).toEqual([7, 2, 9]);
    expect([m.bosId, m.bosToken, m.eosToken, m.addBos]).toEqual([1, '<s>', '<|eot|>', true]);
  });

  it('chat_template.jinja wins over tokenizer_config.json; a named-template list uses "default"', () => {
    const a = folder({'config.json': base, 'tokenizer_config.json': {chat_template: 'A'}, 'chat_template.jinja': 'J'});
    expect([loadModelFolder(a).chatTemplate, path.basename(loadModelFolder(a).chatTemplateFile!)]).toEqual(['J', 'chat_template.jinja']);
    const b = folder({'config.json': base, 'tokenizer_config.json': {chat_template: [{name: 'tool_use', template: 'T'}, {name: 'default', template: 'D'}]}});
    expect(loadModelFolder(b).chatTemplate).toBe('D');
  });

  it('a Llama 3 style tokenizer (no add_bos_token, post-processor adds BOS) adds BOS; the run id comes from llmops_model.json', () => {
    const dir = folder({
      'config.json': base,
      'tokenizer.json': {post_processor: {type: 'Sequence', processors: [{type: 'ByteLevel'}, {type: 'TemplateProcessing', single: [{SpecialToken: {id: '<|begin_of_text|>'}}, {Sequence: {id: 'A'}}]}]}},
      'llmops_model.json': {run_id: 'r-1'},
    });
    const m = loadModelFolder(dir);
    expect(m.addBos).toBe(true);
    expect(m.runId).toBe('r-1');
    expect(loadModelFolder(dir, {runId: 'r-2'}).runId).toBe('r-2');
  });
});
