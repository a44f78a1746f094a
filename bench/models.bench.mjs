#!/usr/bin/env node
// Single-stream greedy generation on a Llama-architecture model of about 34 M parameters (6 layers,
// hidden 384, 6 heads / 2 kv heads, untied 32k-token embeddings with the Phi-3/Llama 2 tokenizer),
// written with random weights by templates/trainer/export_hf.py, measured side by side in one run:
//   1. `llmops deploy` (detached server, HTTP streaming, ignore_eos) read with fetch;
//   2. transformers.js `generate` on the same folder (offline, greedy, min_new_tokens = N);
//   3. a bare onnxruntime-node loop with a KV cache (1 intra-op thread, like the server).
// Figure: new tokens / end-to-end seconds (prompt pass included), median of 5 interleaved rounds after a warm-up.
// Usage: npm run bench -- models
import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {gunzipSync} from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const N = 64;
const ROUNDS = 5;
const PROMPT = 'The history of the city begins with a small settlement by the river, where';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-models-'));
const tokDir = path.join(work, 'tokenizer');
mkdirSync(tokDir);
const fx = path.join(ROOT, 'test', 'fixtures', 'models', 'phi3');
writeFileSync(path.join(tokDir, 'tokenizer.json'), gunzipSync(readFileSync(path.join(fx, 'tokenizer.json.gz'))));
writeFileSync(path.join(tokDir, 'tokenizer_config.json'), readFileSync(path.join(fx, 'tokenizer_config.json')));
const cfgFile = path.join(work, 'config.json');
writeFileSync(cfgFile, JSON.stringify({model_type: 'llama', hidden_size: 384, intermediate_size: 1024, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 2, max_position_embeddings: 1024, rms_norm_eps: 1e-5, initializer_range: 0.05, tie_word_embeddings: false}));
const modelDir = path.join(work, 'models', 'llama-34m');
let t = performance.now();
const ex = spawnSync(PYTHON, [path.join(ROOT, 'templates', 'trainer', 'export_hf.py'), '--random', cfgFile, '--tokenizer', tokDir, '--out', modelDir, '--seed', '1'], {encoding: 'utf8'});
if (ex.status !== 0) throw new Error(ex.stderr);
const meta = JSON.parse(readFileSync(path.join(modelDir, 'llmops_model.json'), 'utf8'));
console.log(`model: ${(meta.params / 1e6).toFixed(1)} M parameters, exported in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const {ModelTokenizer} = await import(path.join(ROOT, 'dist/lib/model/tokenizer.js'));
const promptIds = ModelTokenizer.fromFolder(modelDir).encode(PROMPT, {addSpecialTokens: true});

// ---- 3. bare onnxruntime-node loop ---------------------------------------------------------------
async function bare() {
  const ort = await import('onnxruntime-node');
  const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const L = cfg.num_hidden_layers, KV = cfg.num_key_value_heads, D = cfg.hidden_size / cfg.num_attention_heads, V = cfg.vocab_size;
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), {intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const i64 = (xs) => BigInt64Array.from(xs, (x) => BigInt(x));
  const run = async () => {
    let past = Array.from({length: 2 * L}, () => new Float32Array(0));
    let pastLen = 0;
    let ids = promptIds;
    const t0 = performance.now();
    for (let n = 0; n < N; n++) {
      const s = ids.length;
      const feeds = {
        input_ids: new ort.Tensor('int64', i64(ids), [1, s]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + s).fill(1n), [1, pastLen + s]),
        position_ids: new ort.Tensor('int64', i64(ids.map((_, i) => pastLen + i)), [1, s]),
      };
      for (let i = 0; i < L; i++) {
        feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', past[2 * i], [1, KV, pastLen, D]);
        feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', past[2 * i + 1], [1, KV, pastLen, D]);
      }
      const r = await session.run(feeds);
      const logits = r.logits.data;
      const off = (s - 1) * V;
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[off + v] > logits[off + best]) best = v;
      past = [];
      for (let i = 0; i < L; i++) past.push(r[`present.${i}.key`].data, r[`present.${i}.value`].data);
      pastLen += s;
      ids = [best];
    }
    return N / ((performance.now() - t0) / 1000);
  };
  await run();
  return {run, close: () => session.release()};
}

// ---- 2. transformers.js ----------------------------------------------------------------------------
async function tjs() {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = path.dirname(modelDir) + path.sep;
  const model = await tf.AutoModelForCausalLM.from_pretrained(path.basename(modelDir), {dtype: 'fp32', device: 'cpu'});
  const n = promptIds.length;
  const input_ids = new tf.Tensor('int64', BigInt64Array.from(promptIds, BigInt), [1, n]);
  const attention_mask = new tf.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
  const run = async () => {
    const t0 = performance.now();
    await model.generate({input_ids, attention_mask, max_new_tokens: N, min_new_tokens: N, do_sample: false});
    return N / ((performance.now() - t0) / 1000);
  };
  await run();
  return {run, close: () => model.dispose()};
}

// ---- 1. llmops deploy, HTTP streaming --------------------------------------------------------------
function cli(args, env) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {cwd: work, env: {...process.env, ...env}, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`llmops ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function served() {
  const env = {LLMOPS_DB: path.join(work, 'ledger.db')};
  const up = JSON.parse(cli(['deploy', '--model', modelDir, '--name', 'bench', '--port', '0', '--detach', '--json'], env));
  const run = async () => {
    const t0 = performance.now();
    const res = await fetch(up.url + '/v1/completions', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({prompt: PROMPT, max_tokens: N, temperature: 0, ignore_eos: true, stream: true, stream_options: {include_usage: true}})});
    let text = '';
    for await (const chunk of res.body) text += Buffer.from(chunk).toString('utf8');
    const usage = JSON.parse(text.split('\n').filter((l) => l.startsWith('data: {') && l.includes('"usage":{')).at(-1).slice(6)).usage;
    if (usage.completion_tokens !== N || usage.prompt_tokens !== promptIds.length) throw new Error(`unexpected usage ${JSON.stringify(usage)}`);
    return N / ((performance.now() - t0) / 1000);
  };
  await run();
  return {run, close: () => cli(['deploy', 'stop', 'bench'], env)};
}

// Rounds interleave the three (server, transformers.js, bare loop) so that load from other
// processes on the machine falls on all of them alike.
const runners = {deploy: await served(), tjs: await tjs(), bare: await bare()};
const got = {deploy: [], tjs: [], bare: []};
try {
  for (let i = 0; i < ROUNDS; i++) for (const k of Object.keys(runners)) got[k].push(await runners[k].run());
} finally {
  for (const r of Object.values(runners)) await r.close();
}
const [servedTps, tjsTps, bareTps] = [median(got.deploy), median(got.tjs), median(got.bare)];
console.log(JSON.stringify({params_m: +(meta.params / 1e6).toFixed(1), prompt_tokens: promptIds.length, new_tokens: N, cores: os.availableParallelism(),
  deploy_stream_tok_s: +servedTps.toFixed(1), transformers_js_tok_s: +tjsTps.toFixed(1), bare_ort_tok_s: +bareTps.toFixed(1),
  deploy_vs_transformers_js: +(servedTps / tjsTps).toFixed(2), deploy_vs_bare: +(servedTps / bareTps).toFixed(2)}, null, 1));
