#!/usr/bin/env node
// Where the server's own time per token goes, in process and without HTTP (docs/benchmarks.md,
// "The server's own cost per streamed token"): the same greedy generation of 200 tokens on the
// tiny preset, in alternating rounds, through
//   bare:     the bare onnxruntime-node loop (bench/lib/bare-loop.mjs);
//   engine:   the serving engine's Batch (prefill, then one step per token) and an argmax;
//   schedule: the Scheduler and a Sequence (sampling, stop checks, EOS), not streamed;
//   stream:   the same, streamed, decoding text every deploy.stream_flush_ms (16 ms) as the server does;
//   stream-each: streamed, decoding every token (deploy.stream_flush_ms 0).
// Figures: wall and main-thread CPU ms per token, medians (the engine runs on the main thread with 1
// intra-op thread, so CPU time there is the work done, whatever the machine's load).
// Usage: npm run build && node bench/engine-layers.bench.mjs [MODEL_DIR]   (ROUNDS=N, default 9)
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {bareGreedy} from './lib/bare-loop.mjs';
import {PROMPT, trainModel} from './lib/tiny-model.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(ROOT, 'dist', p));
const N = 200;
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const modelDir = process.argv[2] ?? trainModel();

const {loadModelFolder} = await dist('lib/model/folder.js');
const {OnnxModel, Batch} = await dist('lib/serve/engine.js');
const {Scheduler} = await dist('lib/serve/scheduler.js');
const {ModelTokenizer} = await dist('lib/serve/tokenizer.js');
const ort = await import('onnxruntime-node');

const spec = loadModelFolder(modelDir);
const tok = ModelTokenizer.fromFolder(modelDir);
const prompt = tok.encode(PROMPT, {addSpecialTokens: true});
const session = await ort.InferenceSession.create(spec.onnxPath, {intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
const bare = bareGreedy(ort, session, {layers: spec.nLayer, kvHeads: spec.nKvHead, headDim: spec.headDim, vocab: spec.vocabSize});
const model = await OnnxModel.load(spec, 1);
const scheduler = new Scheduler(model, tok, {maxConcurrent: 8, maxQueue: 8, mode: 'batch'});

async function engine() {
  const {batch, logits} = await Batch.prefill(model, {}, prompt);
  let l = logits;
  for (let n = 1; ; n++) {
    let best = 0;
    for (let v = 1; v < spec.vocabSize; v++) if (l[v] > l[best]) best = v;
    batch.rows[0].next = best;
    if (n >= N) break;
    l = await batch.step();
  }
}

async function schedule(stream, decodeIntervalMs) {
  const r = await scheduler.submit({
    promptIds: prompt, maxTokens: N, sampling: {temperature: 0, topP: 1, topK: 0}, stop: [], ignoreEos: true,
    ...(stream ? {onDelta: () => {}, decodeIntervalMs} : {}),
  });
  if (r.completionTokens !== N) throw new Error(`${r.completionTokens} tokens, ${N} expected`);
}

const cpuMs = () => Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const runs = {
  bare: () => bare(prompt, N),
  engine,
  schedule: () => schedule(false),
  stream: () => schedule(true, 16),
  'stream-each': () => schedule(true, 0),
};
const wall = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const cpu = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (const run of Object.values(runs)) await run();
for (let i = 0; i < ROUNDS; i++) {
  for (const [k, run] of Object.entries(runs)) {
    const t0 = performance.now();
    const c0 = cpuMs();
    await run();
    wall[k].push((performance.now() - t0) / N);
    cpu[k].push((cpuMs() - c0) / N);
  }
}
await scheduler.close();
await model.close();
await session.release();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`tiny preset (${spec.nLayer} layers, vocabulary ${spec.vocabSize}), ${prompt.length}-token prompt, ${N} tokens, medians of ${ROUNDS} rounds`);
console.log('| path | wall ms/token | CPU ms/token | CPU over bare |');
console.log('| --- | ---: | ---: | ---: |');
for (const k of Object.keys(runs)) {
  console.log(`| ${k} | ${median(wall[k]).toFixed(4)} | ${median(cpu[k]).toFixed(4)} | ${(median(cpu[k]) - median(cpu.bare)).toFixed(4)} |`);
}
