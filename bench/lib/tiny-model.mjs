// The serving benchmarks' model: the trainer's `tiny` preset trained for a few steps (speed does not
// depend on training), cached under bench/.out by a hash of the trainer's sources.
import {createHash} from 'node:crypto';
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'bench', '.out');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
export const PROMPT = 'the cat sat on the mat and the dog ran to the park';

/** The model folder (RUN_DIR/model) of the tiny preset, trained on first use. */
export function trainModel() {
  const trainer = path.join(ROOT, 'templates', 'trainer');
  const h = createHash('sha256');
  for (const f of readdirSync(trainer).filter((f) => f.endsWith('.py')).sort()) h.update(readFileSync(path.join(trainer, f)));
  const base = path.join(OUT, `serve-model-${h.digest('hex').slice(0, 12)}`);
  const modelDir = path.join(base, 'run', 'model');
  if (existsSync(path.join(modelDir, 'onnx', 'model.onnx'))) return modelDir;
  rmSync(base, {recursive: true, force: true});
  mkdirSync(path.join(base, 'data'), {recursive: true});
  mkdirSync(path.join(base, 'run'), {recursive: true});
  const words = PROMPT.split(' ');
  const lines = Array.from({length: 300}, (_, i) => JSON.stringify({id: String(i), text: Array.from({length: 16}, (_, k) => words[(i * 5 + k * 3) % words.length]).join(' ')}));
  writeFileSync(path.join(base, 'data', 'train.jsonl'), lines.join('\n') + '\n');
  writeFileSync(path.join(base, 'data', 'val.jsonl'), lines.slice(0, 20).join('\n') + '\n');
  const spec = {
    version: 1, run_id: 'r-bench', kind: 'train', run_dir: path.join(base, 'run'), dataset: {id: 'ds-bench', dir: path.join(base, 'data')},
    preset: 'tiny', max_steps: 10, seed: 1, overrides: {context: 256}, eval_every: null, checkpoint_every: null, resume_from: null,
    finetune: null, tokenizer: 'byte', export: true, threads: null,
  };
  writeFileSync(path.join(base, 'run', 'spec.json'), JSON.stringify(spec));
  process.stderr.write('training the tiny model for the benchmark...\n');
  execFileSync(PYTHON, [path.join(trainer, 'train.py'), '--spec', path.join(base, 'run', 'spec.json')], {stdio: ['ignore', 'ignore', 'inherit']});
  return modelDir;
}
