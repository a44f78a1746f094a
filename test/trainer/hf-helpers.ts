/** Set-up for the Hugging Face family tests: tokenizer folders, random tiny exports, and both references. */
import {spawnSync} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {REPO_ROOT} from '../helpers/cli.js';
import {PYTHON, TRAINER_DIR} from './helpers.js';

export const EXPORT_HF_PY = path.join(TRAINER_DIR, 'export_hf.py');
export const HF_LOGITS_PY = path.join(TRAINER_DIR, 'hf_logits.py');
/** The independent plain-torch forward of phi3/gemma/gemma2 (test/fixtures/hf_family_reference.py). */
export const FAMILY_REFERENCE_DIR = path.join(REPO_ROOT, 'test', 'fixtures');

/** The tiny shape the issue asks for: hidden 64, 2 layers, 4 heads, 2 key/value heads. */
export const TINY = {
  llama: {model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-5, initializer_range: 0.1},
  gpt2: {model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, initializer_range: 0.1},
  /** Phi-4-mini's partial rotary factor: rotary on 12 of each head's 16 dims. */
  phi3: {model_type: 'phi3', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-5, partial_rotary_factor: 0.75,
    tie_word_embeddings: false, initializer_range: 0.1},
  /** head_dim 24, not hidden / heads (16). */
  gemma: {model_type: 'gemma', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 24, max_position_embeddings: 128, rms_norm_eps: 1e-6,
    hidden_activation: 'gelu_pytorch_tanh', initializer_range: 0.1},
} as const;

/** A tokenizer folder: llmops's byte-level tokenizer.json plus tokenizer_config.json with its chat template. */
export function makeTokenizerDir(root: string): string {
  const dir = path.join(root, 'tokenizer');
  mkdirSync(dir, {recursive: true});
  const py = `import json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from tokenizer import ByteTokenizer
t = ByteTokenizer(); t.save(sys.argv[1] + "/tokenizer.json")
json.dump(t.tokenizer_config(128), open(sys.argv[1] + "/tokenizer_config.json", "w"))`;
  const r = spawnSync(PYTHON, ['-c', py, dir], {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(r.stderr);
  return dir;
}

/** export_hf.py --random: a random-init model of `config` written as an HF checkpoint + ONNX. */
export function exportRandom(root: string, name: string, config: object, tokDir: string, dtype: 'fp32' | 'fp16' = 'fp32'): string {
  const cfgFile = path.join(root, `${name}.config.json`);
  writeFileSync(cfgFile, JSON.stringify(config));
  const out = path.join(root, name);
  const r = spawnSync(PYTHON, [EXPORT_HF_PY, '--random', cfgFile, '--tokenizer', tokDir, '--out', out, '--dtype', dtype, '--seed', '7'],
    {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`export_hf.py failed: ${r.stderr}`);
  return out;
}

/**
 * Several exports and their torch references in ONE Python process (export_hf.main and
 * hf_logits.main, the same entry points as the CLI): importing torch costs seconds per process.
 */
export function exportAndReferenceMany(root: string, tokDir: string, ids: number[], newTokens: number,
  cases: Array<{name: string; config: object; dtype: 'fp32' | 'fp16'; independent?: boolean}>,
): Record<string, {dir: string; logits: number[][]; greedy: number[]; independent?: {logits: number[][]}}> {
  const jobs = cases.map((c) => {
    const cfgFile = path.join(root, `${c.name}.config.json`);
    writeFileSync(cfgFile, JSON.stringify(c.config));
    return {name: c.name, out: path.join(root, c.name),
      export: ['--random', cfgFile, '--tokenizer', tokDir, '--out', path.join(root, c.name), '--dtype', c.dtype, '--seed', '7'],
      ref: ['--model', path.join(root, c.name), '--ids', ids.join(','), '--new', String(newTokens)],
      independent: c.independent ? ['--trainer', TRAINER_DIR, '--model', path.join(root, c.name), '--ids', ids.join(',')] : null};
  });
  // independent: the family's forward written from its definition (hf_family_reference.py) on the same weights.
  const py = `import contextlib, io, json, sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)}); sys.path.insert(0, ${JSON.stringify(FAMILY_REFERENCE_DIR)})
import export_hf, hf_logits, hf_family_reference
res = {}
def run(main, argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0, argv
    return buf.getvalue()
for job in json.loads(sys.argv[1]):
    run(export_hf.main, job["export"])
    res[job["name"]] = dict(json.loads(run(hf_logits.main, job["ref"])), dir=job["out"])
    if job["independent"]:
        res[job["name"]]["independent"] = json.loads(run(hf_family_reference.main, job["independent"]))
print(json.dumps(res))`;
  const r = spawnSync(PYTHON, ['-c', py, JSON.stringify(jobs)], {encoding: 'utf8', maxBuffer: 256 * 1024 * 1024});
  if (r.status !== 0) throw new Error(`export/reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function tokenizeWithTransformersJs(tokDir: string, prompt: string): Promise<number[]> {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = path.dirname(tokDir) + path.sep;
  const tokenizer = await tjs.AutoTokenizer.from_pretrained(path.basename(tokDir));
  return Array.from((tokenizer(prompt) as {input_ids: {data: BigInt64Array}}).input_ids.data, Number);
}

/** Our torch modules on the folder's safetensors: logits [s][vocab] and greedy continuation. */
export function torchReference(dir: string, ids: number[], newTokens: number, transformers = false) {
  const args = [HF_LOGITS_PY, '--model', dir, '--ids', ids.join(','), '--new', String(newTokens)];
  if (transformers) args.push('--transformers');
  const r = spawnSync(PYTHON, args, {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
  if (r.status !== 0) throw new Error(`hf_logits.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as {logits: number[][]; greedy: number[]; transformers_max_abs_diff?: number};
}

export function hasTransformers(): boolean {
  return spawnSync(PYTHON, ['-c', 'import transformers'], {encoding: 'utf8'}).status === 0;
}

/** transformers.js on the same folder, offline (the independent reference): its model and tokenizer. */
export async function loadTransformersJs(dir: string, dtype: 'fp32' | 'fp16') {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = path.dirname(dir) + path.sep;
  const name = path.basename(dir);
  const tokenizer = await tjs.AutoTokenizer.from_pretrained(name);
  const model = await tjs.AutoModelForCausalLM.from_pretrained(name, {dtype, device: 'cpu'});
  return {tjs, tokenizer, model};
}

type Loaded = Awaited<ReturnType<typeof loadTransformersJs>>;

/**
 * transformers.js generate (greedy) after `prompt`: the completion's text as a stream shows it (the
 * whole sequence decoded, special tokens skipped, less the prompt's text) and its token count.
 */
export async function greedyCompletion({tjs, tokenizer, model}: Loaded, prompt: string, maxNew: number): Promise<{text: string; tokens: number}> {
  const ids = tokenizer.encode(prompt) as number[];
  const n = ids.length;
  const out = (await model.generate({input_ids: new tjs.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new tjs.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]), max_new_tokens: maxNew, do_sample: false})) as {data: BigInt64Array};
  const all = Array.from(out.data, Number);
  const before = tokenizer.decode(ids, {skip_special_tokens: true});
  return {text: tokenizer.decode(all, {skip_special_tokens: true}).slice(before.length), tokens: all.length - n};
}

/** greedyCompletion on a local folder, offline. */
export async function folderCompletion(dir: string, prompt: string, maxNew: number): Promise<{text: string; tokens: number}> {
  const loaded = await loadTransformersJs(dir, 'fp32');
  try {
    return await greedyCompletion(loaded, prompt, maxNew);
  } finally {
    await loaded.model.dispose();
  }
}

/** transformers.js on the same folder: the prompt's ids, the logits of every position, greedy ids. */
export async function transformersJs(dir: string, prompt: string, dtype: 'fp32' | 'fp16', newTokens: number) {
  const {tjs, tokenizer, model} = await loadTransformersJs(dir, dtype);
  try {
    const enc = tokenizer(prompt) as {input_ids: InstanceType<typeof tjs.Tensor>; attention_mask: InstanceType<typeof tjs.Tensor>};
    const ids = Array.from(enc.input_ids.data as BigInt64Array, Number);
    const out = (await model(enc)) as {logits: InstanceType<typeof tjs.Tensor>};
    const logitsT = out.logits.type === 'float16' ? out.logits.to('float32') : out.logits;
    const [, s, vocab] = logitsT.dims as number[];
    const flat = Array.from(logitsT.data as Float32Array);
    const logits = Array.from({length: s!}, (_, i) => flat.slice(i * vocab!, (i + 1) * vocab!));
    const gen = (await model.generate({...enc, max_new_tokens: newTokens, do_sample: false})) as InstanceType<typeof tjs.Tensor>;
    const greedy = Array.from(gen.data as BigInt64Array, Number).slice(ids.length);
    return {ids, logits, greedy};
  } finally {
    await model.dispose();
  }
}

export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) m = Math.max(m, Math.abs(a[i]![j]! - (b[i]?.[j] ?? Number.NaN)) || 0);
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  return m;
}
