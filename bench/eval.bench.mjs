#!/usr/bin/env node
// Eval figures (docs/benchmarks.md "## Eval"), in one run: perplexity tokens/s of `llmops eval`'s
// scorer (rolling windows, batched, log-softmax in onnxruntime) against @huggingface/transformers
// on the same model folder, the same windows, the model's forward and transformers.js's own
// `log_softmax` on its output tensor (what a user of transformers.js writes). Two models written
// with random weights by templates/trainer/export_hf.py (speed does not depend on the weights):
//   byte: Llama, hidden 256, 4 layers, the byte vocabulary (263 tokens);
//   32k:  the same Llama with the Phi-3 / Llama 2 tokenizer (32k vocabulary, untied embeddings).
// Each side runs at its own default threads (ours: eval's default, one intra-op thread per core up
// to 8; transformers.js: no intraOpNumThreads, onnxruntime's default) and both at 1 intra-op thread.
// Every configuration of a round runs once, rounds alternate the sides; verdicts are median ratios.
// The perplexities of every configuration must agree to 1e-4 (checked, printed).
// BENCH_ROUNDS (default 3); BENCH_JS_HEAD=1 adds our scorer with the log-softmax in JavaScript (1 thread);
// BENCH_ROWS=N sets our batch rows (default: eval.batch_rows).
// Usage: npm run build && node bench/eval.bench.mjs   (writes bench/.out/eval.json)
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {gunzipSync} from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', '.out');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const TRAINER = path.join(ROOT, 'templates', 'trainer');
const CONTEXT = 256;
const LLAMA = {model_type: 'llama', hidden_size: 256, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 8,
  num_key_value_heads: 4, max_position_embeddings: CONTEXT, rms_norm_eps: 1e-5, initializer_range: 0.05, tie_word_embeddings: false};
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const JS_HEAD = process.env.BENCH_JS_HEAD === '1';
const ROWS = process.env.BENCH_ROWS ? Number(process.env.BENCH_ROWS) : undefined;
mkdirSync(OUT, {recursive: true});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ROOT_DIR = path.join(OUT, 'eval-bench');

/** The byte tokenizer of llmops's trainer, or the Phi-3 fixture's (32k). */
function writeTokenizer(kind, dir) {
  mkdirSync(dir, {recursive: true});
  if (kind === '32k') {
    const fx = path.join(ROOT, 'test', 'fixtures', 'models', 'phi3');
    writeFileSync(path.join(dir, 'tokenizer.json'), gunzipSync(readFileSync(path.join(fx, 'tokenizer.json.gz'))));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), readFileSync(path.join(fx, 'tokenizer_config.json')));
    return;
  }
  const py = `import json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER)})
from tokenizer import ByteTokenizer
t = ByteTokenizer(); t.save(sys.argv[1] + "/tokenizer.json")
c = t.tokenizer_config(${CONTEXT}); c["add_bos_token"] = True
json.dump(c, open(sys.argv[1] + "/tokenizer_config.json", "w"))`;
  execFileSync(PYTHON, ['-c', py, dir]);
}

function exportModel(kind) {
  const name = kind === '32k' ? 'llama-32k' : 'llama-byte';
  const dir = path.join(ROOT_DIR, name);
  if (existsSync(path.join(dir, 'onnx', 'model.onnx'))) return {name, dir};
  const tok = path.join(ROOT_DIR, `tokenizer-${kind}`);
  writeTokenizer(kind, tok);
  const cfg = path.join(ROOT_DIR, `config-${kind}.json`);
  writeFileSync(cfg, JSON.stringify(LLAMA));
  process.stderr.write(`exporting a random Llama (${kind} vocabulary) for the benchmark...\n`);
  execFileSync(PYTHON, [path.join(TRAINER, 'export_hf.py'), '--random', cfg, '--tokenizer', tok, '--out', dir, '--seed', '1'], {stdio: ['ignore', 'ignore', 'inherit']});
  return {name, dir};
}

/**
 * Byte model: 40 texts of 300-1,100 bytes, most 2-5 windows of 256 tokens. 32k model: 20 texts of
 * 120-440 words (about one token a word), 1-2 windows each (fewer tokens: transformers.js's side
 * takes minutes per pass here).
 */
function texts(kind) {
  const words = 'the cat sat on a mat and the dog ran to the park with a ball while it rained all day long'.split(' ');
  const [n, scale] = kind === '32k' ? [20, 2] : [40, 1];
  return Array.from({length: n}, (_, i) => Array.from({length: (60 + (i * 37) % 160) * scale}, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' '));
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

/** `llmops eval`'s scorer as the eval engine builds it: eval's defaults, its thread count unless `threads` is given. */
async function ours(dir, docs, {threads, head} = {}) {
  const {loadServableModel} = await import(path.join(ROOT, 'dist/lib/serve/model-dir.js'));
  const {Scorer} = await import(path.join(ROOT, 'dist/lib/eval/scorer.js'));
  const {perplexity} = await import(path.join(ROOT, 'dist/lib/eval/suites.js'));
  const {openScorer} = await import(path.join(ROOT, 'dist/lib/eval/run.js'));
  const {evalSchema} = await import(path.join(ROOT, 'dist/lib/config/schema.js'));
  const cfg = evalSchema.parse(ROWS ? {batch_rows: ROWS} : {});
  const {onnx: model, scorer: engineScorer, threads: n} = await openScorer(loadServableModel(dir), cfg, threads);
  // The JavaScript log-softmax (the reference) on the same session, for the comparison only.
  const scorer = head === 'js' ? new Scorer(model, engineScorer.tokenizer, {maxRows: cfg.batch_rows, maxTokens: cfg.batch_tokens, threads: n, head}) : engineScorer;
  return {
    threads: n,
    run: async () => {
      const t0 = performance.now();
      const r = await perplexity(scorer, docs.map((text) => ({text})));
      return {tokens: r.tokens, s: (performance.now() - t0) / 1000, ppl: r.value};
    },
    close: async () => {
      await engineScorer.close();
      await model.close();
    },
  };
}

/** transformers.js as a user runs it: from_pretrained offline, the model's forward, its log_softmax. */
async function transformersJs(name, docs, {threads} = {}) {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = ROOT_DIR + path.sep;
  const sessionOptions = threads ? {session_options: {intraOpNumThreads: threads, interOpNumThreads: 1}} : {};
  const model = await tjs.AutoModelForCausalLM.from_pretrained(name, {dtype: 'fp32', local_files_only: true, ...sessionOptions});
  const tok = await tjs.AutoTokenizer.from_pretrained(name, {local_files_only: true});
  const bos = tok.bos_token_id ?? 256;
  return {
    threads: threads ?? 'onnxruntime default',
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
          for (let t = whole.length - cont.length; t <= n; t++) {
            nll -= tjs.log_softmax(logits.data.subarray((t - 1) * V, t * V))[whole[t]];
            tokens++;
          }
        }
      }
      return {tokens, s: (performance.now() - t0) / 1000, ppl: Math.exp(nll / tokens)};
    },
    close: async () => model.dispose?.(),
  };
}

const results = {};
for (const kind of ['byte', '32k']) {
  const {name, dir} = exportModel(kind);
  const docs = texts(kind);
  const sides = {
    ours_default: await ours(dir, docs),
    tjs_default: await transformersJs(name, docs),
    ours_1: await ours(dir, docs, {threads: 1}),
    tjs_1: await transformersJs(name, docs, {threads: 1}),
    ...(JS_HEAD ? {ours_1_js_head: await ours(dir, docs, {threads: 1, head: 'js'})} : {}),
  };
  for (const side of Object.values(sides)) await side.run(); // warm-up, untimed
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which side goes first, so neither always meets the same background load.
    const order = Object.keys(sides);
    if (i % 2 === 1) order.reverse();
    const got = {};
    for (const k of order) got[k] = await sides[k].run();
    const ref = got.ours_default;
    for (const [k, r] of Object.entries(got)) {
      if (r.tokens !== ref.tokens || Math.abs(Math.log(r.ppl / ref.ppl)) > 1e-4) throw new Error(`${kind}: ${k} disagrees with ours_default: ${JSON.stringify({[k]: r, ours_default: ref})}`);
    }
    const rate = Object.fromEntries(Object.entries(got).map(([k, r]) => [k, r.tokens / r.s]));
    const round = {tokens_per_s: rate, ratio_defaults: rate.ours_default / rate.tjs_default, ratio_1_thread: rate.ours_1 / rate.tjs_1, tokens: ref.tokens, ppl: ref.ppl};
    rounds.push(round);
    process.stdout.write(`${kind} round ${i + 1}: ${Object.entries(rate).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} tokens/s; defaults ${round.ratio_defaults.toFixed(2)}x, 1 thread ${round.ratio_1_thread.toFixed(2)}x (perplexity ${ref.ppl.toFixed(4)} all, ${ref.tokens} tokens, load ${os.loadavg()[0].toFixed(1)})\n`);
  }
  for (const side of Object.values(sides)) await side.close();
  const med = Object.fromEntries(Object.keys(sides).map((k) => [k, median(rounds.map((r) => r.tokens_per_s[k]))]));
  results[kind] = {
    model: {...LLAMA, tokenizer: kind}, context: CONTEXT, texts: docs.length, threads: Object.fromEntries(Object.entries(sides).map(([k, v]) => [k, v.threads])), rounds,
    median: {tokens_per_s: med, ratio_defaults: median(rounds.map((r) => r.ratio_defaults)), ratio_1_thread: median(rounds.map((r) => r.ratio_1_thread))},
  };
  const m = results[kind].median;
  process.stdout.write(`${kind} median: defaults ${m.ratio_defaults.toFixed(2)}x, 1 thread ${m.ratio_1_thread.toFixed(2)}x (target >= 2x: defaults ${m.ratio_defaults >= 2 ? 'met' : 'NOT met'}, 1 thread ${m.ratio_1_thread >= 2 ? 'met' : 'NOT met'})\n`);
}
const result = {...results, machine: {cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version}, at: new Date().toISOString()};
writeFileSync(path.join(OUT, 'eval.json'), JSON.stringify(result, null, 1));
