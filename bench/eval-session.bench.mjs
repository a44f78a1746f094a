#!/usr/bin/env node
// onnxruntime session options for eval's forward pass (docs/benchmarks.md "## Eval"): the 32k-
// vocabulary Llama of bench/eval.bench.mjs (run that first: it exports the model), one batch of 4
// windows of 256 tokens as the scorer feeds it (empty past, only `logits` fetched unless said),
// 1 intra-op thread. Variants: the eval engine's options; all outputs fetched (present.* too);
// no CPU memory arena; parallel execution mode; graph optimisation 'extended'; a preallocated
// logits tensor passed in fetches. Rounds alternate the variants; medians of ms per batch.
// Usage: npm run build && node bench/eval.bench.mjs && node bench/eval-session.bench.mjs
import {existsSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(ROOT, 'bench', '.out', 'eval-bench', 'llama-32k');
if (!existsSync(path.join(dir, 'onnx', 'model.onnx'))) throw new Error(`${dir}: run bench/eval.bench.mjs first`);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ort = await import('onnxruntime-node');
const {loadServableModel} = await import(path.join(ROOT, 'dist/lib/serve/model-dir.js'));
const spec = loadServableModel(dir);
const B = 4;
const S = 256;
const base = {intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all'};
const variants = {
  eval_engine: {opts: base},
  all_outputs: {opts: base, fetchAll: true},
  no_mem_arena: {opts: {...base, enableCpuMemArena: false}},
  parallel_mode: {opts: {...base, executionMode: 'parallel', interOpNumThreads: 2}},
  extended_opt: {opts: {...base, graphOptimizationLevel: 'extended'}},
  prealloc_logits: {opts: base, prealloc: true},
};
const feeds = (session) => {
  const f = {};
  const n = B * S;
  f.input_ids = new ort.Tensor('int64', BigInt64Array.from({length: n}, (_, i) => BigInt((i * 7919) % 32000)), [B, S]);
  f.attention_mask = new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [B, S]);
  if (session.inputNames.includes('position_ids')) f.position_ids = new ort.Tensor('int64', BigInt64Array.from({length: n}, (_, i) => BigInt(i % S)), [B, S]);
  for (let i = 0; i < spec.nLayer; i++) for (const kv of ['key', 'value']) f[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [B, spec.nKvHead, 0, spec.headDim]);
  return f;
};
const runs = {};
for (const [name, v] of Object.entries(variants)) {
  const session = await ort.InferenceSession.create(spec.onnxPath, v.opts);
  const f = feeds(session);
  const out = v.prealloc ? {logits: new ort.Tensor('float32', new Float32Array(B * S * spec.vocabSize), [B, S, spec.vocabSize])} : null;
  runs[name] = async () => {
    const t0 = performance.now();
    const r = v.fetchAll ? await session.run(f) : await session.run(f, out ?? ['logits']);
    const ms = performance.now() - t0;
    return {ms, check: r.logits.data[12345]};
  };
}
const times = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
let ref;
for (const k of Object.keys(runs)) ref ??= (await runs[k]()).check; // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(runs);
  if (r % 2) order.reverse();
  for (const k of order) {
    const {ms, check} = await runs[k]();
    if (Math.abs(check - ref) > 1e-4) throw new Error(`${k}: logits differ (${check} vs ${ref})`);
    times[k].push(ms);
  }
  process.stdout.write(`round ${r + 1}: ${Object.entries(times).map(([k, v]) => `${k} ${v.at(-1).toFixed(0)}`).join(', ')} ms (load ${os.loadavg()[0].toFixed(1)})\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(`median ms per batch of ${B}x${S}: ${Object.entries(times).map(([k, v]) => `${k} ${median(v).toFixed(0)}`).join(', ')}\n`);
