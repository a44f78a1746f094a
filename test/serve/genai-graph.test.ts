/**
 * Graphs as onnxruntime-genai's model builder writes them for a CPU: Microsoft contrib ops
 * (com.microsoft GroupQueryAttention with rotary inside, SkipSimplifiedLayerNormalization,
 * MatMulNBits 4-bit weights; SimplifiedLayerNormalization), no position_ids, model.onnx at the
 * folder's root. test/fixtures/genai_graph.py writes a tiny random one; the tokenizer is Phi-3's
 * (a real SentencePiece-style BPE). `llmops deploy --model DIR` must serve it, and its greedy
 * tokens must equal an independent loop: onnxruntime-node run directly on the graph, prompts
 * tokenized and completions decoded by transformers.js.
 */
import {spawnSync} from 'node:child_process';
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {PYTHON, REPO_ROOT, runCli, tempDir} from '../helpers/cli.js';
import {fixtureFolder, referenceTokenizer} from '../model/fixtures.js';

const GENERATOR = path.join(REPO_ROOT, 'test', 'fixtures', 'genai_graph.py');
const NEW_TOKENS = 10;
const PROMPTS = ['Once upon a time, in a land far away,', 'The quick brown fox'];
const SHAPE = {layers: 2, hidden: 64, heads: 4, kvHeads: 2};

let root = '';
let dir = '';
let vocab = 0;
let ops: string[] = [];
let server = {url: '', name: 'genai'};
const env = () => ({LLMOPS_DB: path.join(root, 'ledger.db')});

/** Writes the genai-style graph into `out` (a folder holding the tokenizer) plus config.json. */
function writeModel(out: string, maskDtype: 'int64' | 'int32', rotary: 'gqa' | 'op' = 'gqa'): string[] {
  const r = spawnSync(PYTHON, [GENERATOR, out, '--vocab', String(vocab), '--mask-dtype', maskDtype, '--rotary', rotary, '--seed', '5'], {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`genai_graph.py: ${r.stderr}`);
  const config = {model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: SHAPE.hidden, intermediate_size: 128, num_hidden_layers: SHAPE.layers,
    num_attention_heads: SHAPE.heads, num_key_value_heads: SHAPE.kvHeads, max_position_embeddings: 256, vocab_size: vocab, rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 32000};
  writeFileSync(path.join(out, 'config.json'), JSON.stringify(config));
  // What the builder writes next to the graph (onnxruntime-genai reads it; llmops does not need it).
  writeFileSync(path.join(out, 'genai_config.json'), JSON.stringify({model: {type: 'llama', decoder: {filename: 'model.onnx', num_hidden_layers: SHAPE.layers,
    inputs: {input_ids: 'input_ids', attention_mask: 'attention_mask', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value'},
    outputs: {logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value'}}}}));
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {ops: string[]}).ops;
}

/** The independent loop: onnxruntime-node on the graph, greedy, a growing KV cache, batch 1. */
async function ortGreedy(onnx: string, prompt: number[], n: number): Promise<number[]> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnx);
  const head = SHAPE.hidden / SHAPE.heads;
  let past: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (let i = 0; i < SHAPE.layers; i++) {
    for (const kind of ['key', 'value']) past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, SHAPE.kvHeads, 0, head]);
  }
  const out: number[] = [];
  let feed = prompt;
  let total = 0;
  try {
    while (out.length < n) {
      total += feed.length;
      const positions: Record<string, InstanceType<typeof ort.Tensor>> = {};
      if (session.inputNames.includes('position_ids')) {
        positions.position_ids = new ort.Tensor('int64', BigInt64Array.from(feed, (_, j) => BigInt(total - feed.length + j)), [1, feed.length]);
      }
      const r = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(feed, BigInt), [1, feed.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
        ...positions,
        ...past,
      });
      const logits = r.logits!.data as Float32Array;
      const from = (feed.length - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[from + v]! > logits[from + best]!) best = v;
      out.push(best);
      feed = [best];
      past = {};
      for (let i = 0; i < SHAPE.layers; i++) for (const kind of ['key', 'value']) past[`past_key_values.${i}.${kind}`] = r[`present.${i}.${kind}`]!;
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Prompt ids and the completion text the reference decodes to (as a client sees it). */
async function reference(prompt: string, graph = path.join(dir, 'model.onnx')): Promise<{ids: number[]; text: string}> {
  const tok = await referenceTokenizer(dir);
  const promptIds = tok.encode(prompt) as number[];
  const ids = await ortGreedy(graph, promptIds, NEW_TOKENS);
  const before = tok.decode(promptIds, {skip_special_tokens: true});
  return {ids, text: tok.decode([...promptIds, ...ids], {skip_special_tokens: true}).slice(before.length)};
}

beforeAll(async () => {
  root = tempDir('llmops-genai-graph-');
  dir = fixtureFolder('phi3');
  const tok = JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as {model: {vocab: Record<string, number>}; added_tokens: Array<{id: number}>};
  vocab = Math.max(...Object.values(tok.model.vocab), ...tok.added_tokens.map((t) => t.id)) + 1;
  ops = writeModel(dir, 'int64');
  const up = await runCli(['deploy', '--model', dir, '--name', 'genai', '--port', '0', '--detach', '--json'], {cwd: root, env: env()});
  if (up.code !== 0) throw new Error(`deploy: ${up.stderr}`);
  server = {url: up.json.url, name: 'genai'};
}, 180_000);

afterAll(async () => {
  if (server.url) await runCli(['deploy', 'stop', 'genai'], {cwd: root, env: env()});
  if (root) rmSync(root, {recursive: true, force: true});
});

describe('graphs with Microsoft contrib ops (onnxruntime-genai builder layout)', () => {
  it('the fixture graph really is one: GroupQueryAttention in the attention path, contrib norms and 4-bit MatMulNBits, no position_ids', () => {
    expect(ops).toEqual(expect.arrayContaining(['com.microsoft:GroupQueryAttention', 'com.microsoft:SkipSimplifiedLayerNormalization', 'com.microsoft:MatMulNBits', 'ai.onnx:SimplifiedLayerNormalization']));
  });

  it('llmops deploy serves it: greedy completions equal onnxruntime-node run directly (transformers.js tokenizer), streamed and not', {timeout: 120_000}, async () => {
    const api = new OpenAI({baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0});
    const ref = await reference(PROMPTS[0]!);
    expect(new Set(ref.ids).size, 'the random model does not repeat one token').toBeGreaterThan(2);
    const r = await api.completions.create({model: 'genai', prompt: PROMPTS[0]!, max_tokens: NEW_TOKENS, temperature: 0});
    expect(r.choices[0]!.text).toBe(ref.text);
    expect(r.usage!.completion_tokens).toBe(NEW_TOKENS);
    const stream = await api.completions.create({model: 'genai', prompt: PROMPTS[0]!, max_tokens: NEW_TOKENS, temperature: 0, stream: true});
    let text = '';
    for await (const ch of stream) text += ch.choices[0]?.text ?? '';
    expect(text).toBe(ref.text);
  });

  it('concurrent requests of different lengths each equal their own reference (no left padding into GroupQueryAttention)', {timeout: 120_000}, async () => {
    const api = new OpenAI({baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0});
    const refs = await Promise.all(PROMPTS.map((p) => reference(p)));
    const got = await Promise.all([0, 1, 0, 1].map((i) => api.completions.create({model: 'genai', prompt: PROMPTS[i]!, max_tokens: NEW_TOKENS, temperature: 0})));
    expect(got.map((r) => r.choices[0]!.text)).toEqual([0, 1, 0, 1].map((i) => refs[i]!.text));
  });

  /** Our engine alone (OnnxModel + Batch, as the server runs it) on a folder: greedy ids for `prompt`. */
  async function engineGreedy(folder: string, prompt: string, expectLayout: Record<string, unknown>): Promise<number[]> {
    const {loadServableModel} = await import('../../src/lib/serve/model-dir.js');
    const {Batch, OnnxModel} = await import('../../src/lib/serve/engine.js');
    const m = await OnnxModel.load(loadServableModel(folder), 1);
    try {
      expect(m.layout).toMatchObject(expectLayout);
      const tok = await referenceTokenizer(dir);
      const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best]! ? i : best), 0);
      const {batch, logits} = await Batch.prefill(m, null, tok.encode(prompt) as number[]);
      const ids = [argmax(logits)];
      while (ids.length < NEW_TOKENS) {
        batch.rows[0]!.next = ids.at(-1)!;
        ids.push(argmax(await batch.step()));
      }
      return ids;
    } finally {
      await m.close();
    }
  }

  it('an int32 attention_mask (as the graph declares it) is fed as int32, with the same tokens', {timeout: 120_000}, async () => {
    const dir32 = path.join(root, 'genai-int32');
    cpSync(dir, dir32, {recursive: true});
    writeModel(dir32, 'int32');
    const ids = await engineGreedy(dir32, PROMPTS[1]!, {maskType: 'int32', idsType: 'int64', hasPositionIds: false, leftPadding: false, nKvHead: 2, headDim: 16});
    expect(ids).toEqual((await reference(PROMPTS[1]!)).ids);
  });

  it('the builder\'s other layout: com.microsoft RotaryEmbedding from position_ids, then GroupQueryAttention without rotary', {timeout: 120_000}, async () => {
    const dirRot = path.join(root, 'genai-rotary-op');
    cpSync(dir, dirRot, {recursive: true});
    expect(writeModel(dirRot, 'int64', 'op')).toEqual(expect.arrayContaining(['com.microsoft:RotaryEmbedding', 'com.microsoft:GroupQueryAttention']));
    const ids = await engineGreedy(dirRot, PROMPTS[0]!, {hasPositionIds: true, leftPadding: false});
    expect(ids).toEqual((await reference(PROMPTS[0]!, path.join(dirRot, 'model.onnx'))).ids);
  });
});
