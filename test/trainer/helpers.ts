/** Shared set-up for the trainer tests: datasets in temp dirs, spec files, running the real trainer. */
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {PYTHON, REPO_ROOT, tempDir} from '../helpers/cli.js';

export const TRAINER_DIR = path.join(REPO_ROOT, 'templates', 'trainer');
export const TRAIN_PY = path.join(TRAINER_DIR, 'train.py');
export const EXPORT_PY = path.join(TRAINER_DIR, 'export.py');
export {PYTHON, tempDir};

/** A model small enough that a step takes milliseconds; for behaviour that does not need `tiny`. */
export const MICRO = {n_layer: 1, n_head: 2, n_embd: 32, context: 32, batch_size: 4, log_every: 1, warmup_steps: 5};

const WORDS = 'the cat sat on a mat and the dog ran to the park while birds sang in the old tree'.split(' ');

/** Deterministic pseudo-random text (a tiny LCG, so the data is the same on every machine). */
export function textRecords(n: number, seed = 1): Array<{id: string; text: string}> {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({length: n}, (_, i) => ({
    id: `t${i}`,
    text: Array.from({length: 24}, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' '),
  }));
}

export function writeJsonl(file: string, records: unknown[]): void {
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export function makeTextDataset(root: string, n = 200): string {
  const dir = path.join(root, 'dataset');
  mkdirSync(dir, {recursive: true});
  writeJsonl(path.join(dir, 'train.jsonl'), textRecords(n, 1));
  writeJsonl(path.join(dir, 'val.jsonl'), textRecords(20, 2));
  return dir;
}

export interface Spec {
  [k: string]: unknown;
  run_dir: string;
}

export function makeSpec(root: string, name: string, datasetDir: string, extra: Record<string, unknown> = {}): Spec {
  const runDir = path.join(root, name);
  mkdirSync(runDir, {recursive: true});
  return {
    version: 1,
    run_id: `r-${name}`,
    kind: 'train',
    run_dir: runDir,
    dataset: {id: 'ds-test', dir: datasetDir},
    preset: 'tiny',
    max_steps: 20,
    seed: 1337,
    overrides: {...MICRO},
    eval_every: null,
    checkpoint_every: null,
    resume_from: null,
    finetune: null,
    tokenizer: 'byte',
    export: false,
    threads: 1,
    ...extra,
  };
}

export interface TrainerEvent {
  type: string;
  ts: number;
  [k: string]: any;
}

export interface TrainerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: TrainerEvent[];
  runDir: string;
}

export function readEvents(runDir: string): TrainerEvent[] {
  const file = path.join(runDir, 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrainerEvent);
}

/** Starts train.py on a spec (written to RUN_DIR/spec.json) as the CLI does. */
export function startTrainer(spec: Spec, specPath = path.join(spec.run_dir, 'spec.json')): ChildProcess {
  writeFileSync(specPath, JSON.stringify(spec, null, 1));
  return spawn(PYTHON, [TRAIN_PY, '--spec', specPath], {
    cwd: path.dirname(spec.run_dir),
    env: {...process.env, LLMOPS_EVENTS: path.join(spec.run_dir, 'events.jsonl')},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function waitFor(child: ChildProcess, runDir: string): Promise<TrainerRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr, events: readEvents(runDir), runDir}));
  });
}

export function runTrainer(spec: Spec): Promise<TrainerRun> {
  return waitFor(startTrainer(spec), spec.run_dir);
}

/** Training loss per step from the metric events. */
export function losses(events: TrainerEvent[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of events) if (e.type === 'metric' && typeof e.values?.loss === 'number') m.set(e.step, e.values.loss);
  return m;
}

/** Runs a Python snippet with the trainer's modules importable; returns its stdout parsed as JSON. */
export function python(code: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})\n${code}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`python exited ${code}: ${err}`))));
  });
}
