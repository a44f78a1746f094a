/**
 * A tiny model trained by the real trainer (templates/trainer, micro override n_layer 2, n_embd 64,
 * a few steps), shared by the serve tests. It is cached in the temp dir under a hash of the trainer's
 * sources, so it is trained once per trainer version and test files running in parallel wait for
 * one another instead of training twice.
 */
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {PYTHON, REPO_ROOT} from '../../helpers/cli.js';

const TRAINER = path.join(REPO_ROOT, 'templates', 'trainer');

function trainerHash(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(TRAINER).filter((f) => f.endsWith('.py')).sort()) h.update(f).update(readFileSync(path.join(TRAINER, f)));
  return h.digest('hex').slice(0, 12);
}

function writeDataset(dir: string): void {
  mkdirSync(dir, {recursive: true});
  const words = 'the cat sat on a mat and the dog ran to the park with a ball'.split(' ');
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    lines.push(JSON.stringify({id: `t${i}`, text: Array.from({length: 12}, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ')}));
    lines.push(JSON.stringify({id: `c${i}`, messages: [{role: 'user', content: `say ${words[i % words.length]}`}, {role: 'assistant', content: `${words[i % words.length]} ${words[(i + 1) % words.length]}`}]}));
  }
  writeFileSync(path.join(dir, 'train.jsonl'), lines.join('\n') + '\n');
  writeFileSync(path.join(dir, 'val.jsonl'), lines.slice(0, 20).join('\n') + '\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exported model folder (RUN_DIR/model) and its run dir. */
export async function tinyModel(): Promise<{modelDir: string; runDir: string; runId: string}> {
  const base = path.join(os.tmpdir(), `llmops-serve-model-${trainerHash()}`);
  const runDir = path.join(base, 'run');
  const modelDir = path.join(runDir, 'model');
  const done = path.join(base, 'done');
  const lock = path.join(base + '.lock');
  for (let waited = 0; !existsSync(done); waited += 500) {
    try {
      mkdirSync(lock);
    } catch {
      if (waited > 240_000) throw new Error(`waited 240 s for another test file to train the model (${lock})`);
      await sleep(500);
      continue;
    }
    try {
      rmSync(base, {recursive: true, force: true});
      writeDataset(path.join(base, 'data'));
      mkdirSync(runDir, {recursive: true});
      const spec = {
        version: 1, run_id: 'r-serve-test', kind: 'train', run_dir: runDir,
        dataset: {id: 'ds-serve-test', dir: path.join(base, 'data')},
        preset: 'tiny', max_steps: 20, seed: 1, overrides: {n_layer: 2, n_embd: 64},
        eval_every: null, checkpoint_every: null, resume_from: null, finetune: null, tokenizer: 'byte', export: true, threads: 1,
      };
      writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(spec));
      execFileSync(PYTHON, [path.join(TRAINER, 'train.py'), '--spec', path.join(runDir, 'spec.json')], {stdio: 'pipe', timeout: 240_000});
      writeFileSync(done, '');
    } finally {
      rmSync(lock, {recursive: true, force: true});
    }
  }
  return {modelDir, runDir, runId: 'r-serve-test'};
}
