#!/usr/bin/env node
// Eval figures (docs/benchmarks.md "## Eval"), in one run on one model folder: perplexity tokens/s
// of `llmops eval`'s scorer (rolling windows, batched) against @huggingface/transformers running
// the same ONNX graph window by window, with the same log-softmax and the same windows, both on
// onnxruntime-node with 1 intra-op thread. Rounds alternate the two; the verdict is the median ratio.
// The model is a random-init Hugging Face-format Llama written by templates/trainer/export_hf.py
// (speed does not depend on the weights). The two perplexities must agree (checked, printed).
// Usage: npm run build && node bench/eval.bench.mjs   (writes bench/.out/eval.json)
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', '.out');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const TRAINER = path.join(ROOT, 'templates', 'trainer');
const CONTEXT = 256;
const CONFIG = {model_type: 'llama', hidden_size: 256, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 8,
  num_key_value_heads: 4, max_position_embeddings: CONTEXT, rms_norm_eps: 1e-5, initializer_range: 0.05};
const ROUNDS = 3;
mkdirSync(OUT, {recursive: true});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function exportModel() {
  const root = path.join(OUT, 'eval-bench');
  const dir = path.join(root, 'llama');
  if (existsSync(path.join(dir, 'onnx', 'model.onnx'))) return {root, dir};
  const tok = path.join(root, 'tokenizer');
  mkdirSync(tok, {recursive: true});
  const py = `import json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER)})
from tokenizer import ByteTokenizer
t = ByteTokenizer(); t.save(sys.argv[1] + "/tokenizer.json")
c = t.tokenizer_config(${CONTEXT}); c["add_bos_token"] = True
json.dump(c, open(sys.argv[1] + "/tokenizer_config.json", "w"))`;
  execFileSync(PYTHON, ['-c', py, tok]);
  writeFileSync(path.join(root, 'config.json'), JSON.stringify(CONFIG));
  process.stderr.write('exporting a random Llama for the benchmark...\n');
  execFileSync(PYTHON, [path.join(TRAINER, 'export_hf.py'), '--random', path.join(root, 'config.json'), '--tokenizer', tok, '--out', dir, '--seed', '1'], {stdio: ['ignore', 'ignore', 'inherit']});
  return {root, dir};
}

function texts() {
  const words = 'the cat sat on a mat and the dog ran to the park with a ball while it rained all day long'.split(' ');
  // 40 texts of 300-1,100 bytes: most need 2-5 windows of 256 tokens.
  return Array.from({length: 40}, (_, i) => Array.from({length: 60 + (i * 37) % 160}, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' '));
}

/** lm-evaluation-harness's rolling windows (context_len 1, disjoint), as [fed ids, number predicted]. */
function windows(tokens, prefix, L) {
  const out = [];
  const first = Math.min(L, tokens.length);
  out.push([[prefix, ...tokens.slice(0, first - 1)], tokens.slice(0, first)]);
  let predicted = first;
  while (predicted < tokens.length) {
    const n = Math.min(tokens.length - predicted, L);
    const end = predicted + n;
    out.push([tokens.slice(end - L - 1, end - 1), tokens.slice(end - n, end)]);
    predicted += n;
  }
  return out.map(([a, b]) => [a.slice(0, a.length - (b.length - 1)), b]);
}

async function ours(dir, docs) {
  const {loadServableModel} = await import(path.join(ROOT, 'dist/lib/serve/model-dir.js'));
  const {OnnxModel} = await import(path.join(ROOT, 'dist/lib/serve/engine.js'));
  const {ModelTokenizer} = await import(path.join(ROOT, 'dist/lib/model/tokenizer.js'));
  const {Scorer} = await import(path.join(ROOT, 'dist/lib/eval/scorer.js'));
  const {perplexity} = await import(path.join(ROOT, 'dist/lib/eval/suites.js'));
  const model = await OnnxModel.load(loadServableModel(dir), 1);
  const scorer = new Scorer(model, ModelTokenizer.fromFolder(dir));
  return {
    run: async () => {
      const t0 = performance.now();
      const r = await perplexity(scorer, docs.map((text) => ({text})));
      return {tokens: r.tokens, s: (performance.now() - t0) / 1000, ppl: r.value};
    },
    close: () => model.close(),
  };
}

async function transformersJs(root, docs) {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = root + path.sep;
  const model = await tjs.AutoModelForCausalLM.from_pretrained('llama', {dtype: 'fp32', local_files_only: true, session_options: {intraOpNumThreads: 1, interOpNumThreads: 1}});
  const tok = await tjs.AutoTokenizer.from_pretrained('llama', {local_files_only: true});
  const bos = tok.bos_token_id ?? 256;
  return {
    run: async () => {
      const t0 = performance.now();
      let nll = 0;
      let tokens = 0;
      for (const text of docs) {
        for (const [ctx, cont] of windows(tok.encode(text, {add_special_tokens: false}), bos, CONTEXT)) {
          const whole = [...ctx, ...cont].slice(-(CONTEXT + 1));
          const n = whole.length - 1;
          const logits = (await model({
            input_ids: new tjs.Tensor('int64', BigInt64Array.from(whole.slice(0, n), BigInt), [1, n]),
            attention_mask: new tjs.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
          })).logits;
          const V = logits.dims[2];
          const data = logits.data;
          for (let t = whole.length - cont.length; t <= n; t++) {
            const row = data.subarray((t - 1) * V, t * V);
            let max = -Infinity;
            for (const x of row) if (x > max) max = x;
            let z = 0;
            for (const x of row) z += Math.exp(x - max);
            nll -= row[whole[t]] - max - Math.log(z);
            tokens++;
          }
        }
      }
      return {tokens, s: (performance.now() - t0) / 1000, ppl: Math.exp(nll / tokens)};
    },
    close: async () => model.dispose?.(),
  };
}

const {root, dir} = exportModel();
const docs = texts();
const a = await ours(dir, docs);
const b = await transformersJs(root, docs);
await a.run();
await b.run(); // warm-up, untimed
const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  const x = await a.run();
  const y = await b.run();
  if (x.tokens !== y.tokens || Math.abs(Math.log(x.ppl / y.ppl)) > 1e-4) throw new Error(`the two disagree: ${JSON.stringify({x, y})}`);
  rounds.push({ours: x.tokens / x.s, transformers_js: y.tokens / y.s, ratio: x.tokens / x.s / (y.tokens / y.s), tokens: x.tokens, ppl: x.ppl});
  process.stdout.write(`round ${i + 1}: ours ${(x.tokens / x.s).toFixed(0)} tokens/s, transformers.js ${(y.tokens / y.s).toFixed(0)} tokens/s, ${(rounds.at(-1).ratio).toFixed(2)}x (perplexity ${x.ppl.toFixed(4)} both, ${x.tokens} tokens)\n`);
}
await a.close();
await b.close();
const result = {
  model: CONFIG, context: CONTEXT, texts: docs.length, rounds,
  median: {ours: median(rounds.map((r) => r.ours)), transformers_js: median(rounds.map((r) => r.transformers_js)), ratio: median(rounds.map((r) => r.ratio))},
  machine: {cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version}, at: new Date().toISOString(),
};
writeFileSync(path.join(OUT, 'eval.json'), JSON.stringify(result, null, 1));
process.stdout.write(`median: ours ${result.median.ours.toFixed(0)} tokens/s, transformers.js ${result.median.transformers_js.toFixed(0)} tokens/s: ${result.median.ratio.toFixed(2)}x (target >= 2x: ${result.median.ratio >= 2 ? 'met' : 'NOT met'})\n`);
