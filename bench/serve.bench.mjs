#!/usr/bin/env node
// Serve figures (docs/benchmarks.md "## Serve"), all in one run on one model and one prompt:
//  1. the bare engine: an in-process onnxruntime-node greedy loop with a KV cache (no server code);
//  2. one stream through HTTP (`llmops deploy` as its own process, SSE): tokens/s and TTFT;
//  3. 8 concurrent streams: aggregate tokens/s, with batched decoding and with interleaving;
//  4. @huggingface/transformers generate() on the same ONNX graph, as a reference point;
//  5. Node's http vs fastify on a small JSON endpoint (the framework choice);
//  6. the server's own cost per streamed token: (HTTP streaming seconds - bare loop seconds) / tokens,
//     from rounds that alternate a bare-loop run and one stream; with LLMOPS_BENCH_BEFORE=DIR (a copy
//     of an earlier build: DIR/bin/run.js, DIR/dist, DIR/package.json, DIR/oclif.manifest.json) the
//     earlier server runs in the same rounds, so before and after are measured side by side.
// The model is the trainer's `tiny` preset (a few steps: speed does not depend on training).
// Usage: npm run build && node bench/serve.bench.mjs   (writes bench/.out/serve.json)
//        BENCH_ONLY=cost node bench/serve.bench.mjs   (section 6 alone; BENCH_DETACH=1: servers as `deploy --detach` starts them)
import {execFileSync, spawn} from 'node:child_process';
import {cpSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {bareGreedy} from './lib/bare-loop.mjs';
import {PROMPT, trainModel} from './lib/tiny-model.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', '.out');
const N_TOKENS = 200;
const REPS = 5;
mkdirSync(OUT, {recursive: true});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- 1. bare loop ------------------------------------------------------------------------------
async function bareLoop(modelDir, promptIds) {
  const ort = await import('onnxruntime-node');
  const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), {intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const {n_layer: L, n_head: H, head_dim: D, vocab_size: V} = cfg;
  const greedy = bareGreedy(ort, session, {layers: L, kvHeads: H, headDim: D, vocab: V});
  const generate = async () => {
    const {seconds, ttftMs} = await greedy(promptIds, N_TOKENS);
    return {seconds, ttftMs};
  };
  await generate();
  return {generate, release: () => session.release()};
}

// ---- 2/3. the server ---------------------------------------------------------------------------
// BENCH_DETACH=1: servers start as `deploy --detach` starts them (a process of their own, with the
// server's Node flags), instead of `deploy` in the foreground.
const DETACH = process.env.BENCH_DETACH === '1';

async function startServer(modelDir, mode, root = ROOT, tag = '') {
  const dir = path.join(os.tmpdir(), `llmops-bench-serve-${process.pid}-${mode}${tag}`);
  mkdirSync(dir, {recursive: true});
  writeFileSync(path.join(dir, 'llmops.yaml'), 'deploy:\n  max_concurrent: 8\n');
  if (DETACH) return startDetached(modelDir, mode, root, dir);
  const child = spawn(process.execPath, [path.join(root, 'bin', 'run.js'), 'deploy', '--model', modelDir, '--name', 'bench', '--port', '0', '--mode', mode], {
    cwd: dir,
    env: {...process.env, LLMOPS_DB: path.join(dir, 'l.db'), NO_COLOR: '1'},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /serving bench at (http:\/\/[\d.:]+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(err)));
  });
  return {url, pid: child.pid, db: path.join(dir, 'l.db'), stop: () => new Promise((r) => (child.on('exit', r), child.kill('SIGINT')))};
}

function startDetached(modelDir, mode, root, dir) {
  const env = {...process.env, LLMOPS_DB: path.join(dir, 'l.db'), NO_COLOR: '1'};
  const cli = (args) => execFileSync(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {cwd: dir, env, encoding: 'utf8'});
  const up = JSON.parse(cli(['deploy', '--model', modelDir, '--name', 'bench', '--port', '0', '--mode', mode, '--detach', '--json']));
  return {url: up.url, pid: up.pid, db: env.LLMOPS_DB, stop: async () => void cli(['deploy', 'stop', 'bench'])};
}

const agent = new http.Agent({keepAlive: true, maxSockets: 16});

/** One streamed completion: seconds to the last token, ms to the first, tokens received. */
function stream(url) {
  const body = JSON.stringify({model: 'bench', prompt: PROMPT, max_tokens: N_TOKENS, temperature: 0, ignore_eos: true, stream: true, stream_options: {include_usage: true}});
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttft = null;
    let buf = '';
    const req = http.request(url + '/v1/completions', {method: 'POST', agent, headers: {'content-type': 'application/json'}}, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (ttft === null && d.includes('"text":"') && !d.includes('"text":""')) ttft = performance.now() - t0;
        buf += d;
      });
      res.on('end', () => {
        const usage = buf.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).find((e) => e.usage)?.usage;
        resolve({seconds: (performance.now() - t0) / 1000, ttftMs: ttft ?? performance.now() - t0, tokens: usage?.completion_tokens ?? 0});
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The machine is shared, so its load changes from minute to minute: bare-loop and HTTP runs
// alternate, and each ratio compares runs made under the same conditions.
async function serverFigures(modelDir, mode, bare, bareRuns) {
  const s = await startServer(modelDir, mode);
  try {
    await stream(s.url);
    const single = [];
    for (let i = 0; i < REPS; i++) {
      bareRuns.push(await bare.generate());
      single.push(await stream(s.url));
    }
    // 8 concurrent streams, each round paired with a single stream run just before it.
    const rounds = [];
    for (let i = 0; i < 3; i++) {
      const one = await stream(s.url);
      const t0 = performance.now();
      const rs = await Promise.all(Array.from({length: 8}, () => stream(s.url)));
      const agg = rs.reduce((a, r) => a + r.tokens, 0) / ((performance.now() - t0) / 1000);
      rounds.push({agg, ratio: agg / (one.tokens / one.seconds), ttftMs: median(rs.map((r) => r.ttftMs))});
    }
    return {
      singleTokensPerS: N_TOKENS / median(single.map((r) => r.seconds)),
      singleTtftMs: median(single.map((r) => r.ttftMs)),
      tokensChecked: single.every((r) => r.tokens === N_TOKENS),
      concurrent8TokensPerS: median(rounds.map((r) => r.agg)),
      concurrent8VsSingle: median(rounds.map((r) => r.ratio)),
      concurrent8TtftMs: median(rounds.map((r) => r.ttftMs)),
      dbFile: s.db,
    };
  } finally {
    await s.stop();
  }
}

// ---- 6. the server's own cost per token ---------------------------------------------------------
const COST_ROUNDS = 11;
// CPU time of a process's main thread in ms (Linux schedstat, ns resolution): the engine runs there
// (1 intra-op thread), and unlike wall time it does not count waiting for a core on a loaded machine.
const threadCpuMs = (pid) => {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};
async function serverCost(modelDir, bare, roots) {
  const servers = [];
  try {
    for (const [name, root] of Object.entries(roots)) servers.push({name, s: await startServer(modelDir, 'batch', root, `-${name}`)});
    for (const {s} of servers) await stream(s.url);
    const perRound = Object.fromEntries(servers.map(({name}) => [name, {wall: [], cpu: []}]));
    const bareMs = [];
    const bareCpu = [];
    for (let i = 0; i < COST_ROUNDS; i++) {
      const c0 = threadCpuMs(process.pid);
      const b = await bare.generate();
      const bCpu = (threadCpuMs(process.pid) - c0) / N_TOKENS;
      bareMs.push((b.seconds * 1000) / N_TOKENS);
      bareCpu.push(bCpu);
      for (const {name, s} of servers) {
        const s0 = threadCpuMs(s.pid);
        const r = await stream(s.url);
        if (r.tokens !== N_TOKENS) throw new Error(`${name}: ${r.tokens} tokens streamed, ${N_TOKENS} expected`);
        perRound[name].wall.push((r.seconds * 1000) / N_TOKENS - (b.seconds * 1000) / N_TOKENS);
        perRound[name].cpu.push((threadCpuMs(s.pid) - s0) / N_TOKENS - bCpu);
      }
    }
    return {
      bareMsPerToken: median(bareMs),
      bareCpuMsPerToken: median(bareCpu),
      ...Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, {serverMsPerToken: median(v.wall), serverCpuMsPerToken: median(v.cpu), rounds: v.wall.map((x) => +x.toFixed(3))}])),
    };
  } finally {
    for (const {s} of servers) await s.stop();
  }
}

// ---- 4. transformers.js ------------------------------------------------------------------------
async function transformersJs(modelDir, promptIds) {
  let tf;
  try {
    tf = await import('@huggingface/transformers');
  } catch {
    return {skipped: '@huggingface/transformers is not installed (npm i -D @huggingface/transformers)'};
  }
  // transformers.js knows the GPT-2 family; our graph has the same inputs and outputs.
  const dir = path.join(OUT, 'serve-model-hf');
  rmSync(dir, {recursive: true, force: true});
  cpSync(modelDir, dir, {recursive: true});
  const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({...cfg, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_ctx: cfg.n_positions}));
  writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({bos_token_id: cfg.bos_token_id}));
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = OUT;
  const model = await tf.AutoModelForCausalLM.from_pretrained('serve-model-hf', {local_files_only: true, dtype: 'fp32', session_options: {intraOpNumThreads: 1, interOpNumThreads: 1}});
  const input_ids = new tf.Tensor('int64', BigInt64Array.from(promptIds, (x) => BigInt(x)), [1, promptIds.length]);
  const gen = async () => {
    const t0 = performance.now();
    const out = await model.generate({input_ids, max_new_tokens: N_TOKENS, min_new_tokens: N_TOKENS, do_sample: false});
    return {seconds: (performance.now() - t0) / 1000, tokens: out.dims[1] - promptIds.length};
  };
  await gen();
  const runs = [];
  for (let i = 0; i < REPS; i++) runs.push(await gen());
  return {tokensPerS: N_TOKENS / median(runs.map((r) => r.seconds)), tokens: runs[0].tokens};
}

// ---- 5. node:http vs fastify -------------------------------------------------------------------
async function frameworks() {
  const payload = {object: 'list', data: [{id: 'bench', object: 'model'}]};
  const hammer = async (port) => {
    const ag = new http.Agent({keepAlive: true, maxSockets: 8});
    const get = () =>
      new Promise((resolve, reject) => {
        http.get({port, host: '127.0.0.1', path: '/v1/models', agent: ag}, (res) => (res.resume(), res.on('end', resolve))).on('error', reject);
      });
    for (let i = 0; i < 500; i++) await get();
    const n = 8000;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({length: 8}, async () => {
      while (next++ < n) await get();
    }));
    ag.destroy();
    return n / ((performance.now() - t0) / 1000);
  };
  const node = http.createServer((req, res) => {
    const t = JSON.stringify(payload);
    res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(t)});
    res.end(t);
  });
  await new Promise((r) => node.listen(0, '127.0.0.1', r));
  let app;
  try {
    const {default: Fastify} = await import('fastify');
    app = Fastify();
    app.get('/v1/models', async () => payload);
    await app.listen({port: 0, host: '127.0.0.1'});
  } catch (error) {
    process.stderr.write(`fastify skipped: ${error.message}\n`);
  }
  // Alternating rounds, so that warm-up and the machine's other load fall on both alike.
  const nodeRounds = [];
  const fastifyRounds = [];
  for (let i = 0; i < 3; i++) {
    nodeRounds.push(await hammer(node.address().port));
    if (app) fastifyRounds.push(await hammer(app.server.address().port));
  }
  node.close();
  await app?.close();
  const nodeRps = median(nodeRounds);
  const fastifyRps = app ? median(fastifyRounds) : 'skipped';
  return {nodeHttpRps: nodeRps, fastifyRps};
}

const modelDir = process.argv[2] ?? trainModel();
const {ModelTokenizer} = await import(path.join(ROOT, 'dist/lib/serve/tokenizer.js'));
// The server's own tokenization of a completion prompt (BOS as the model's config says).
const promptIds = ModelTokenizer.fromFolder(modelDir).encode(PROMPT, {addSpecialTokens: true});
const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));

const bareEngine = await bareLoop(modelDir, promptIds);
const before = process.env.LLMOPS_BENCH_BEFORE;
const cost = await serverCost(modelDir, bareEngine, before ? {before: path.resolve(before), now: ROOT} : {now: ROOT});
const printCost = () => {
  console.log(`server's own cost per streamed token (HTTP streaming ms/token - bare loop ms/token, median of ${COST_ROUNDS} alternating rounds; bare loop ${cost.bareMsPerToken.toFixed(3)} ms/token wall, ${cost.bareCpuMsPerToken.toFixed(3)} ms/token main-thread CPU):`);
  for (const k of ['before', 'now']) {
    if (cost[k]) console.log(`  ${k}: ${cost[k].serverMsPerToken.toFixed(3)} ms/token wall (rounds ${cost[k].rounds.join(', ')}); main-thread CPU ${cost[k].serverCpuMsPerToken.toFixed(3)} ms/token over the bare loop's`);
  }
};
// BENCH_ONLY=cost: section 6 alone (a minute), for working on the per-token path.
if (process.env.BENCH_ONLY === 'cost') {
  printCost();
  await bareEngine.release();
  process.exit(0);
}
const bareRuns = [];
const batch = await serverFigures(modelDir, 'batch', bareEngine, bareRuns);
const interleave = await serverFigures(modelDir, 'interleave', bareEngine, bareRuns);
await bareEngine.release();
const bare = {tokensPerS: N_TOKENS / median(bareRuns.map((r) => r.seconds)), ttftMs: median(bareRuns.map((r) => r.ttftMs))};
// Server-side TTFT (arrival to first token, as the ledger and /metrics see it) of the single streams.
const {default: Database} = await import('better-sqlite3');
for (const r of [batch, interleave]) {
  const db = new Database(r.dbFile, {readonly: true});
  const rows = db.prepare("SELECT ttft_ms FROM requests WHERE status = 'ok' ORDER BY id").all().map((x) => x.ttft_ms);
  db.close();
  r.serverTtftMs = median(rows.slice(1, 1 + REPS));
  delete r.dbFile;
}
const hf = await transformersJs(modelDir, promptIds);
const fw = await frameworks();
const result = {
  machine: `${os.cpus()[0]?.model} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`,
  model: {layers: cfg.n_layer, embd: cfg.n_embd, heads: cfg.n_head, vocab: cfg.vocab_size, context: cfg.n_positions, promptTokens: promptIds.length, newTokens: N_TOKENS},
  bare,
  batch,
  interleave,
  ratios: {
    httpSingleVsBare: batch.singleTokensPerS / bare.tokensPerS,
    batch8VsSingle: batch.concurrent8VsSingle,
    interleave8VsSingle: interleave.concurrent8VsSingle,
  },
  transformersJs: hf,
  frameworks: fw,
  serverCost: cost,
};
writeFileSync(path.join(OUT, 'serve.json'), JSON.stringify(result, null, 2));
const f = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : String(x));
console.log(`machine: ${result.machine}, ${new Date().toISOString()}`);
console.log(`model: ${JSON.stringify(result.model)}`);
console.log(`| measure | tokens/s | TTFT ms |`);
console.log(`|---|---:|---:|`);
console.log(`| bare onnxruntime-node loop (in-process) | ${f(bare.tokensPerS)} | ${f(bare.ttftMs, 1)} |`);
console.log(`| HTTP streaming, 1 stream | ${f(batch.singleTokensPerS)} (${f(result.ratios.httpSingleVsBare, 2)}x bare) | ${f(batch.singleTtftMs, 1)} client, ${f(batch.serverTtftMs, 1)} server |`);
console.log(`| HTTP, 8 streams, batched decoding (aggregate) | ${f(batch.concurrent8TokensPerS)} (${f(result.ratios.batch8VsSingle, 2)}x single) | ${f(batch.concurrent8TtftMs, 1)} |`);
console.log(`| HTTP, 8 streams, interleaved (aggregate) | ${f(interleave.concurrent8TokensPerS)} (${f(result.ratios.interleave8VsSingle, 2)}x single) | ${f(interleave.concurrent8TtftMs, 1)} |`);
console.log(`| @huggingface/transformers generate (in-process) | ${hf.skipped ?? f(hf.tokensPerS)} | - |`);
console.log(`| node:http vs fastify, GET /v1/models req/s | ${f(fw.nodeHttpRps)} vs ${f(fw.fastifyRps)} | - |`);
printCost();
