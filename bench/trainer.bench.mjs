#!/usr/bin/env node
// Trainer throughput on this machine: the real `tiny` preset, run as the CLI runs it
// (python3 trainer/train.py --spec ...), with 1 and 2 torch threads. Prints tokens/s (median of the
// logged intervals after the first, which includes start-up), seconds per step, wall time, and the
// loss at the first and last step. Env: LLMOPS_BENCH_STEPS (default 100), LLMOPS_TEST_PYTHON.
import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const STEPS = Number(process.env.LLMOPS_BENCH_STEPS ?? 100);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-trainer-'));

const WORDS = 'the cat sat on a mat and the dog ran to the park while birds sang in the old tree'.split(' ');
let s = 1;
const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const line = (i) => JSON.stringify({id: `t${i}`, text: Array.from({length: 40}, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ')});
const ds = path.join(tmp, 'ds');
mkdirSync(ds);
writeFileSync(path.join(ds, 'train.jsonl'), Array.from({length: 2000}, (_, i) => line(i)).join('\n') + '\n');
writeFileSync(path.join(ds, 'val.jsonl'), Array.from({length: 50}, (_, i) => line(10000 + i)).join('\n') + '\n');

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length ? a[Math.floor(a.length / 2)] : NaN;
};

const results = [];
for (const threads of [1, 2]) {
  const runDir = path.join(tmp, `run-${threads}`);
  mkdirSync(runDir);
  const spec = {
    version: 1, run_id: `bench-${threads}`, kind: 'train', run_dir: runDir, dataset: {id: 'bench', dir: ds},
    preset: 'tiny', max_steps: STEPS, seed: 1337, overrides: {}, eval_every: null, checkpoint_every: null,
    resume_from: null, finetune: null, tokenizer: 'byte', export: false, threads,
  };
  writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(spec));
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [path.join(root, 'templates/trainer/train.py'), '--spec', path.join(runDir, 'spec.json')], {
    env: {...process.env, LLMOPS_EVENTS: path.join(runDir, 'events.jsonl')}, encoding: 'utf8',
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  const ev = readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const metrics = ev.filter((e) => e.type === 'metric' && 'loss' in e.values);
  const tps = median(metrics.slice(2).map((e) => e.values.tokens_per_s));
  const tokensPerStep = ev[0].env.tokens_per_step;
  results.push({
    preset: 'tiny', threads, steps: STEPS, params: ev[0].env.params, tokens_per_step: tokensPerStep,
    tokens_per_s: Math.round(tps), s_per_step: +(tokensPerStep / tps).toFixed(3), wall_s: +wall.toFixed(1),
    loss_first: +metrics[0].values.loss.toFixed(3), loss_last: +metrics.at(-1).values.loss.toFixed(3),
  });
}
rmSync(tmp, {recursive: true, force: true});
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.table(results);
console.log(JSON.stringify(results));
