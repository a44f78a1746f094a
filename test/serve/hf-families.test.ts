/**
 * Real open-model families end to end: tiny random models written in the Hugging Face /
 * onnx-community layout by the project's own exporter (templates/trainer/export_hf.py --random),
 * with real tokenizers and the families' published chat templates, served by `llmops deploy`
 * (detached, through the real CLI) and queried with the openai client. The independent reference
 * is transformers.js `generate` (greedy) on the same folder: same tokens, for chat (the model's
 * template) and plain completions, streamed and not.
 */
import {spawnSync} from 'node:child_process';
import {cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DEFAULT_CHAT_TEMPLATE} from '../../src/lib/model/chat-template.js';
import {PYTHON, REPO_ROOT, runCli} from '../helpers/cli.js';
import {fixtureFolder, TEMPLATES} from '../model/fixtures.js';
import {TINY} from '../trainer/hf-helpers.js';

const TRAINER = path.join(REPO_ROOT, 'templates', 'trainer');
const NEW_TOKENS = 12;

type Dtype = 'fp32' | 'fp16';
interface Case {
  name: string;
  dtype: Dtype;
  config: Record<string, unknown>;
  tokenizer: () => string;
  /** The chat template transformers.js is given when the folder has none (our documented default). */
  defaultTemplate?: boolean;
}

const llama = {model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-5, initializer_range: 0.2};

const CASES: Case[] = [
  // Llama with GQA (4 heads, 2 kv heads), untied embeddings, Phi-3's SentencePiece tokenizer (byte fallback, BOS) and chat template.
  {name: 'llama-gqa-fp32', dtype: 'fp32', config: {...llama, tie_word_embeddings: false}, tokenizer: () => fixtureFolder('phi3')},
  // The same architecture exported in fp16 (float16 KV cache and logits), with Mistral's template (it raises on a system turn... and on non-alternating roles).
  {name: 'llama-gqa-fp16', dtype: 'fp16', config: {...llama, tie_word_embeddings: true}, tokenizer: () => fixtureFolder('phi3', {tokenizerConfig: {chat_template: TEMPLATES.mistral, eos_token: '</s>'}})},
  // Qwen2 (q/k/v biases), tied embeddings, GPT-2's byte-level BPE with ChatML tokens and SmolLM2's template.
  {
    name: 'qwen2-tied-fp32',
    dtype: 'fp32',
    config: {...llama, model_type: 'qwen2', tie_word_embeddings: true, rope_theta: 10000},
    tokenizer: () => fixtureFolder('gpt2', {addTokens: ['<|im_start|>', '<|im_end|>'], tokenizerConfig: {chat_template: TEMPLATES.smollm2, eos_token: '<|im_end|>'}}),
  },
  // Mistral with a sliding window (8) shorter than the chat prompt, Phi-3's tokenizer and template.
  {name: 'mistral-window-fp32', dtype: 'fp32', config: {...llama, model_type: 'mistral', sliding_window: 8}, tokenizer: () => fixtureFolder('phi3')},
  // Qwen3 (q/k RMSNorm, head_dim 32 != hidden / heads), ChatML tokens and SmolLM2's template.
  {
    name: 'qwen3-qk-norm-fp32',
    dtype: 'fp32',
    config: {...llama, model_type: 'qwen3', head_dim: 32, tie_word_embeddings: true},
    tokenizer: () => fixtureFolder('gpt2', {addTokens: ['<|im_start|>', '<|im_end|>'], tokenizerConfig: {chat_template: TEMPLATES.smollm2, eos_token: '<|im_end|>'}}),
  },
  // Phi-3 (fused qkv and gate_up projections, rotary on 12 of 16 dims, window 8) with its own tokenizer and template.
  {name: 'phi3-fp32', dtype: 'fp32', config: {...TINY.phi3, initializer_range: 0.2, sliding_window: 8}, tokenizer: () => fixtureFolder('phi3')},
  // Gemma (head_dim 24, GeGLU, (1 + w) norms, scaled embeddings) and Gemma 2 (soft-capped attention
  // and logits, a window of 4 on even layers), with Gemma's turn tokens and its template (which raises on a system turn).
  {
    name: 'gemma-fp32',
    dtype: 'fp32',
    config: {...TINY.gemma, initializer_range: 0.2},
    tokenizer: () => fixtureFolder('phi3', {addTokens: ['<start_of_turn>', '<end_of_turn>'], tokenizerConfig: {chat_template: TEMPLATES.gemma2, eos_token: '<end_of_turn>'}}),
  },
  {
    name: 'gemma2-fp32',
    dtype: 'fp32',
    config: {...TINY.gemma, model_type: 'gemma2', initializer_range: 0.2, query_pre_attn_scalar: 20, attn_logit_softcapping: 1.5, final_logit_softcapping: 5.0, sliding_window: 4},
    tokenizer: () => fixtureFolder('phi3', {addTokens: ['<start_of_turn>', '<end_of_turn>'], tokenizerConfig: {chat_template: TEMPLATES.gemma2, eos_token: '<end_of_turn>'}}),
  },
  // GPT-2 with its own tokenizer and no chat template (the documented default applies).
  {name: 'gpt2-fp32', dtype: 'fp32', config: {model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, initializer_range: 0.2}, tokenizer: () => fixtureFolder('gpt2'), defaultTemplate: true},
];

const CHAT = [
  {role: 'user' as const, content: 'Hello there, how are you today? ünïcödé 🦙'},
  {role: 'assistant' as const, content: 'Fine, thanks.'},
  {role: 'user' as const, content: 'Tell me a story.'},
];
const PROMPT = 'Once upon a time, in a land far away,';

let root: string;
let env: Record<string, string>;
const dirs: Record<string, string> = {};
const servers: Record<string, {url: string; name: string}> = {};

/** All exports in one Python process: importing torch costs seconds per process. */
function exportAll(): void {
  const jobs = CASES.map((c) => {
    const cfg = path.join(root, `${c.name}.config.json`);
    writeFileSync(cfg, JSON.stringify(c.config));
    dirs[c.name] = path.join(root, 'models', c.name);
    return ['--random', cfg, '--tokenizer', c.tokenizer(), '--out', dirs[c.name], '--dtype', c.dtype, '--seed', '3'];
  });
  const py = `import contextlib, io, json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER)})
import export_hf
for args in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        assert export_hf.main(args) == 0, args`;
  const r = spawnSync(PYTHON, ['-c', py, JSON.stringify(jobs)], {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`export_hf.py failed: ${r.stderr}`);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-hf-families-'));
  env = {LLMOPS_DB: path.join(root, 'ledger.db')};
  exportAll();
  for (const c of CASES) {
    const up = await runCli(['deploy', '--model', dirs[c.name]!, '--name', c.name, '--port', '0', '--detach', '--json'], {cwd: root, env});
    if (up.code !== 0) throw new Error(`deploy ${c.name}: ${up.stderr}`);
    servers[c.name] = {url: up.json.url, name: c.name};
  }
}, 600_000);

afterAll(async () => {
  for (const name of Object.keys(servers)) await runCli(['deploy', 'stop', name], {cwd: root, env});
  if (root) rmSync(root, {recursive: true, force: true});
});

type Tjs = typeof import('@huggingface/transformers');

/** transformers.js, offline, on the same folder: greedy ids and the completion text they decode to. */
async function reference(c: Case, input: {prompt: string} | {messages: typeof CHAT}): Promise<{text: string; tokens: number}> {
  const tjs: Tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = path.join(root, 'models') + path.sep;
  const tok = await tjs.AutoTokenizer.from_pretrained(c.name);
  const model = await tjs.AutoModelForCausalLM.from_pretrained(c.name, {dtype: c.dtype, device: 'cpu'});
  try {
    const promptIds: number[] =
      'prompt' in input
        ? tok.encode(input.prompt)
        : (tok.apply_chat_template(input.messages, {tokenize: true, return_tensor: false, return_dict: false, add_generation_prompt: true, ...(c.defaultTemplate ? {chat_template: DEFAULT_CHAT_TEMPLATE} : {})}) as number[]);
    const n = promptIds.length;
    const inputIds = new tjs.Tensor('int64', BigInt64Array.from(promptIds, BigInt), [1, n]);
    const mask = new tjs.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    const out = (await model.generate({input_ids: inputIds, attention_mask: mask, max_new_tokens: NEW_TOKENS, do_sample: false})) as InstanceType<Tjs['Tensor']>;
    const all = Array.from(out.data as BigInt64Array, Number);
    const before = tok.decode(promptIds, {skip_special_tokens: true});
    return {text: tok.decode(all, {skip_special_tokens: true}).slice(before.length), tokens: all.length - n};
  } finally {
    await model.dispose();
  }
}

function client(c: Case): OpenAI {
  return new OpenAI({baseURL: servers[c.name]!.url + '/v1', apiKey: 'unused', maxRetries: 0});
}

describe('llmops deploy on Hugging Face families equals transformers.js generate (greedy, token for token)', () => {
  for (const c of CASES) {
    it(`${c.name}: plain completions, streamed and not`, async () => {
      const ref = await reference(c, {prompt: PROMPT});
      expect(ref.tokens, 'the reference generates more than an immediate EOS').toBeGreaterThan(1);
      const api = client(c);
      const r = await api.completions.create({model: c.name, prompt: PROMPT, max_tokens: NEW_TOKENS, temperature: 0});
      expect(r.choices[0]!.text).toBe(ref.text);
      expect(r.usage!.completion_tokens).toBe(ref.tokens);
      const stream = await api.completions.create({model: c.name, prompt: PROMPT, max_tokens: NEW_TOKENS, temperature: 0, stream: true, stream_options: {include_usage: true}});
      let text = '';
      let tokens = 0;
      for await (const ch of stream) {
        text += ch.choices[0]?.text ?? '';
        if (ch.usage) tokens = ch.usage.completion_tokens;
      }
      expect(text).toBe(ref.text);
      expect(tokens).toBe(ref.tokens);
    });

    it(`${c.name}: chat rendered with the model's own template, streamed and not`, async () => {
      const ref = await reference(c, {messages: CHAT});
      const api = client(c);
      const r = await api.chat.completions.create({model: c.name, messages: CHAT, max_tokens: NEW_TOKENS, temperature: 0});
      expect(r.choices[0]!.message.content).toBe(ref.text);
      expect(r.usage!.completion_tokens).toBe(ref.tokens);
      const stream = await api.chat.completions.create({model: c.name, messages: CHAT, max_tokens: NEW_TOKENS, temperature: 0, stream: true, stream_options: {include_usage: true}});
      let text = '';
      let tokens = 0;
      for await (const ch of stream) {
        text += ch.choices[0]?.delta?.content ?? '';
        if (ch.usage) tokens = ch.usage.completion_tokens;
      }
      expect(text).toBe(ref.text);
      expect(tokens).toBe(ref.tokens);
    });
  }

  it("a template that raises is a 400 carrying the template's message (Mistral: roles must alternate)", async () => {
    const api = client(CASES[1]!);
    const err = await api.chat.completions
      .create({model: CASES[1]!.name, messages: [{role: 'user', content: 'a'}, {role: 'user', content: 'b'}], max_tokens: 2})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('Conversation roles must alternate user/assistant/user/assistant/...');
  });

  it('the fp16 export runs with a float16 KV cache (the graph says so) and the GQA kv-head count', async () => {
    const {OnnxModel} = await import('../../src/lib/serve/engine.js');
    const {loadServableModel} = await import('../../src/lib/serve/model-dir.js');
    const spec = loadServableModel(dirs['llama-gqa-fp16']!);
    expect([spec.dtype, spec.nHead, spec.nKvHead]).toEqual(['fp16', 4, 2]);
    const m = await OnnxModel.load(spec, 1);
    try {
      expect(m.layout).toMatchObject({kvType: 'float16', nKvHead: 2, headDim: 16, hasPositionIds: true, hasAttentionMask: true});
    } finally {
      await m.close();
    }
  });
});

describe('deploy refusals for Hugging Face folders', () => {
  it('an unsupported model type is exit 4 naming it and the supported families', async () => {
    const dir = path.join(root, 'bert');
    cpSync(dirs['gpt2-fp32']!, dir, {recursive: true});
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({...cfg, model_type: 'bert'}));
    const r = await runCli(['deploy', '--model', dir, '--name', 'bert', '--port', '0', '--json'], {cwd: root, env});
    expect(r.code).toBe(4);
    expect(r.json.error.message).toContain('model_type "bert" is not supported');
    expect(r.json.error.message).toContain('llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gpt2');
  });

  it('a checkpoint folder without ONNX says so and names llmops export', async () => {
    const dir = path.join(root, 'checkpoint-only');
    cpSync(dirs['llama-gqa-fp32']!, dir, {recursive: true});
    rmSync(path.join(dir, 'onnx'), {recursive: true});
    const r = await runCli(['deploy', '--model', dir, '--name', 'ckpt', '--port', '0', '--json'], {cwd: root, env});
    expect(r.code).toBe(4);
    expect(r.json.error.message).toContain('without ONNX');
    expect(r.json.error.fix).toContain('llmops export');
  });

  it('--dtype picks a graph the folder has, and names the ones it has otherwise', async () => {
    const r = await runCli(['deploy', '--model', dirs['llama-gqa-fp32']!, '--name', 'q4', '--dtype', 'q4', '--port', '0', '--json'], {cwd: root, env});
    expect(r.code).toBe(4);
    expect(r.json.error.message).toContain('has no q4 graph (onnx/model_q4.onnx); it has fp32');
  });
});
