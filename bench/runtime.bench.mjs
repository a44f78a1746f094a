#!/usr/bin/env node
// Overhead of running the trainer through `llmops train` (supervisor, ledger, event ingestion,
// attach) against the same trainer started by hand with the same spec.json.
//   node bench/runtime.bench.mjs            (BENCH_STEPS=60 BENCH_REPS=3 BENCH_PRESET=tiny)
// Needs a build (npm run build) and /usr/bin/python3 with torch. Prints medians and the ratio.
import {execFileSync, spawnSync} from 'node:child_process';
import {cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repo, 'bin', 'run.js');
const python = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const steps = Number(process.env.BENCH_STEPS ?? 60);
const reps = Number(process.env.BENCH_REPS ?? 3);
const preset = process.env.BENCH_PRESET ?? 'tiny';

const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-runtime-'));
cpSync(path.join(repo, 'templates', 'trainer'), path.join(dir, 'trainer'), {recursive: true});
mkdirSync(path.join(dir, 'data'));
const words = 'the cat sat on a mat and the dog ran in the park while birds sang songs of summer'.split(' ');
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (const [split, n] of [['train', 2000], ['val', 100]]) {
  const lines = Array.from({length: n}, (_, i) => JSON.stringify({id: `${split}-${i}`, text: Array.from({length: 60}, () => words[Math.floor(rnd() * words.length)]).join(' ')}));
  writeFileSync(path.join(dir, 'data', `${split}.jsonl`), lines.join('\n') + '\n');
}
writeFileSync(path.join(dir, 'llmops.yaml'), `python: ${python}\ntrain:\n  preset: ${preset}\n`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeIt = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

function direct(i) {
  // The spec `llmops train` would write, run by hand: same trainer, same data, same export.
  const dry = JSON.parse(execFileSync(process.execPath, [bin, 'train', '--dataset', 'data', '--max-steps', String(steps), '--dry-run', '--json'], {cwd: dir, encoding: 'utf8'}));
  const runDir = path.join(dir, 'direct', String(i));
  mkdirSync(runDir, {recursive: true});
  const spec = {...dry.spec, run_dir: runDir, run_id: `direct-${i}`};
  writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(spec));
  return timeIt(() => {
    const r = spawnSync(python, [path.join(dir, 'trainer', 'train.py'), '--spec', path.join(runDir, 'spec.json')], {
      cwd: dir,
      env: {...process.env, LLMOPS_EVENTS: path.join(runDir, 'events.jsonl'), PYTHONUNBUFFERED: '1'},
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new Error('direct trainer run failed');
  });
}

function through() {
  let out;
  const s = timeIt(() => {
    out = execFileSync(process.execPath, [bin, 'train', '--dataset', 'data', '--max-steps', String(steps), '--json'], {cwd: dir, encoding: 'utf8', env: {...process.env, CI: '1'}});
  });
  const r = JSON.parse(out);
  if (r.status !== 'succeeded') throw new Error(`run ${r.id} ${r.status}: ${r.reason}`);
  return {s, tokensPerS: r.metrics.tokens_per_s};
}

const d = [];
const t = [];
const tps = [];
for (let i = 0; i < reps; i++) {
  // Interleaved, so that a busy neighbour slows both sides alike.
  d.push(direct(i));
  const r = through();
  t.push(r.s);
  tps.push(r.tokensPerS);
}
const md = median(d);
const mt = median(t);
const result = {
  preset,
  steps,
  reps,
  directS: d.map((x) => +x.toFixed(2)),
  llmopsS: t.map((x) => +x.toFixed(2)),
  medianDirectS: +md.toFixed(2),
  medianLlmopsS: +mt.toFixed(2),
  ratio: +(mt / md).toFixed(3),
  overheadS: +(mt - md).toFixed(2),
  tokensPerS: Math.round(median(tps)),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
};
console.log(JSON.stringify(result, null, 2));
console.log(`through llmops / direct = ${result.ratio}x (target <= 1.03x); tokens/s (${preset}) ${result.tokensPerS}`);
