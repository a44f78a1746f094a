#!/usr/bin/env node
// Single-stream greedy generation on a Llama-architecture model of about 34 M parameters (6 layers,
// hidden 384, 6 heads / 2 kv heads, untied 32k-token embeddings with the Phi-3/Llama 2 tokenizer),
// written with random weights by templates/trainer/export_hf.py, measured side by side in one run:
//   1. `llmops deploy` (detached server, HTTP streaming, ignore_eos) read with fetch;
//   2. transformers.js `generate` on the same folder (offline, greedy, min_new_tokens = N);
//   3. a bare onnxruntime-node loop with a KV cache (1 intra-op thread, like the server);
//   4. 8 concurrent streams through the same server: aggregate tokens/s against the single stream
//      of the same round;
//   5. time to first token for a 500-token prompt (given as token ids): at the client (first SSE
//      event) and server-side (arrival to first token, as the ledger's requests.ttft_ms records it),
//      with the bare loop's prompt pass for reference.
// Figure: new tokens / end-to-end seconds (prompt pass included), median of 5 interleaved rounds after a warm-up.
// With LLMOPS_BENCH_BEFORE=DIR (a copy of an earlier build: DIR/bin/run.js, DIR/dist, DIR/package.json,
// DIR/oclif.manifest.json) that build's server streams one completion in every round too.
// Usage: npm run bench -- models
import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {gunzipSync} from 'node:zlib';
import {bareGreedy} from './lib/bare-loop.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const N = 64;
const ROUNDS = 5;
const STREAMS = 8;
const LONG = 500;
const LONG_NEW = 16;
const PROMPT = 'The history of the city begins with a small settlement by the river, where';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-models-'));
// onnxruntime intra-op threads of the server (deploy.threads) and the bare loop; transformers.js
// keeps its own default (onnxruntime's: one per core).
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
writeFileSync(path.join(work, 'llmops.yaml'), `deploy:\n  threads: ${THREADS}\n`);
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
const tokenizer = ModelTokenizer.fromFolder(modelDir);
const promptIds = tokenizer.encode(PROMPT, {addSpecialTokens: true});
// A 500-token prompt of ordinary text (BOS first), sent as token ids so its length is exact.
const longIds = [];
for (let k = 0; longIds.length < LONG; k++) longIds.push(...tokenizer.encode(`${PROMPT} Chapter ${k} tells how the river changed its course.`, {addSpecialTokens: longIds.length === 0}));
longIds.length = LONG;

// ---- 3. bare onnxruntime-node loop ---------------------------------------------------------------
async function bare() {
  const ort = await import('onnxruntime-node');
  const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const L = cfg.num_hidden_layers, KV = cfg.num_key_value_heads, D = cfg.hidden_size / cfg.num_attention_heads, V = cfg.vocab_size;
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), {intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const i64 = (xs) => BigInt64Array.from(xs, (x) => BigInt(x));
  const greedy = bareGreedy(ort, session, {layers: L, kvHeads: KV, headDim: D, vocab: V});
  const run = async () => N / (await greedy(promptIds, N)).seconds;
  // Time to first token of the long prompt: one prompt pass and the argmax of its last position.
  const prefill = async () => {
    const s = longIds.length;
    const feeds = {
      input_ids: new ort.Tensor('int64', i64(longIds), [1, s]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(s).fill(1n), [1, s]),
      position_ids: new ort.Tensor('int64', i64(longIds.map((_, i) => i)), [1, s]),
    };
    for (let i = 0; i < L; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, D]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, D]);
    }
    const t0 = performance.now();
    const r = await session.run(feeds);
    const logits = r.logits.data;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[(s - 1) * V + v] > logits[(s - 1) * V + best]) best = v;
    return performance.now() - t0;
  };
  await run();
  await prefill();
  return {run, prefill, close: () => session.release()};
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
function cli(args, env, root = ROOT) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {cwd: work, env: {...process.env, ...env}, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`llmops ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function served(root = ROOT, name = 'bench') {
  const env = {LLMOPS_DB: path.join(work, `${name}.db`)};
  const up = JSON.parse(cli(['deploy', '--model', modelDir, '--name', name, '--port', '0', '--detach', '--json'], env, root));
  // One streamed completion: seconds to the end, ms to the first SSE event, tokens generated.
  const stream = async (prompt, maxTokens) => {
    const t0 = performance.now();
    const res = await fetch(up.url + '/v1/completions', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: {include_usage: true}})});
    let text = '';
    let firstMs = null;
    for await (const chunk of res.body) {
      text += Buffer.from(chunk).toString('utf8');
      if (firstMs === null && text.includes('data: {')) firstMs = performance.now() - t0;
    }
    const usage = JSON.parse(text.split('\n').filter((l) => l.startsWith('data: {') && l.includes('"usage":{')).at(-1).slice(6)).usage;
    const promptLen = Array.isArray(prompt) ? prompt.length : promptIds.length;
    if (usage.completion_tokens !== maxTokens || usage.prompt_tokens !== promptLen) throw new Error(`unexpected usage ${JSON.stringify(usage)}`);
    return {seconds: (performance.now() - t0) / 1000, firstMs};
  };
  const run = async () => N / (await stream(PROMPT, N)).seconds;
  const runConcurrent = async () => {
    const t0 = performance.now();
    await Promise.all(Array.from({length: STREAMS}, () => stream(PROMPT, N)));
    return (STREAMS * N) / ((performance.now() - t0) / 1000);
  };
  const longPrompt = async () => (await stream(longIds, LONG_NEW)).firstMs;
  await run();
  await runConcurrent();
  await longPrompt();
  return {run, runConcurrent, longPrompt, close: () => cli(['deploy', 'stop', name], env, root)};
}

// Rounds interleave the contenders (server, transformers.js, bare loop, 8 server streams, the long
// prompt through the server and through the bare loop) so that load from other processes on the
// machine falls on all of them alike; the 8-stream figure is divided by the same round's single stream.
const deploy = await served();
const beforeRoot = process.env.LLMOPS_BENCH_BEFORE;
const deployBefore = beforeRoot ? await served(path.resolve(beforeRoot), 'bench-before') : null;
const tj = await tjs();
const bareLoop = await bare();
const got = {deploy: [], deployBefore: [], tjs: [], bare: [], concurrent: [], concurrentRatio: [], longClientMs: [], longBareMs: []};
try {
  for (let i = 0; i < ROUNDS; i++) {
    const one = await deploy.run();
    got.deploy.push(one);
    if (deployBefore) got.deployBefore.push(await deployBefore.run());
    got.tjs.push(await tj.run());
    got.bare.push(await bareLoop.run());
    const agg = await deploy.runConcurrent();
    got.concurrent.push(agg);
    got.concurrentRatio.push(agg / one);
    got.longClientMs.push(await deploy.longPrompt());
    got.longBareMs.push(await bareLoop.prefill());
  }
} finally {
  await deploy.close();
  await deployBefore?.close();
  await tj.close();
  await bareLoop.close();
}
// Server-side TTFT of the long prompts (arrival to first token), as the server recorded them; the
// ledger's rows are flushed when the server stops. The first is the warm-up.
const {default: Database} = await import('better-sqlite3');
const db = new Database(path.join(work, 'bench.db'), {readonly: true});
const longServerMs = db.prepare("SELECT ttft_ms FROM requests WHERE status = 'ok' AND prompt_tokens = ? ORDER BY id").all(LONG).map((r) => r.ttft_ms).slice(1);
db.close();
if (longServerMs.length !== ROUNDS) throw new Error(`expected ${ROUNDS} recorded long-prompt requests, found ${longServerMs.length}`);
const [servedTps, tjsTps, bareTps] = [median(got.deploy), median(got.tjs), median(got.bare)];
const r1 = (x) => +x.toFixed(1);
console.log(JSON.stringify({params_m: +(meta.params / 1e6).toFixed(1), prompt_tokens: promptIds.length, new_tokens: N, cores: os.availableParallelism(), threads: THREADS, load_average: os.loadavg().map((x) => +x.toFixed(1)), date: new Date().toISOString(),
  deploy_stream_tok_s: r1(servedTps), transformers_js_tok_s: r1(tjsTps), bare_ort_tok_s: r1(bareTps),
  deploy_vs_transformers_js: +(servedTps / tjsTps).toFixed(2), deploy_vs_bare: +(servedTps / bareTps).toFixed(2),
  ...(deployBefore ? {before_build_stream_tok_s: r1(median(got.deployBefore)), before_build_vs_bare: +(median(got.deployBefore) / bareTps).toFixed(2)} : {}),
  streams: STREAMS, concurrent_aggregate_tok_s: r1(median(got.concurrent)), concurrent_vs_single: +median(got.concurrentRatio).toFixed(2),
  long_prompt_tokens: LONG, ttft_long_server_ms: r1(median(longServerMs)), ttft_long_client_ms: r1(median(got.longClientMs)), prefill_long_bare_ms: r1(median(got.longBareMs)),
  rounds: {deploy: got.deploy.map(r1), ...(deployBefore ? {deploy_before: got.deployBefore.map(r1)} : {}), bare: got.bare.map(r1), concurrent_vs_single: got.concurrentRatio.map((x) => +x.toFixed(2)), ttft_long_server_ms: longServerMs.map(r1), ttft_long_client_ms: got.longClientMs.map(r1)}}, null, 1));
