#!/usr/bin/env node
// Container images: the server image's size without a model, `llmops image build` cold (--no-cache)
// and warm (nothing changed: every layer cached), and the time from `llmops deploy --target docker`
// starting to a healthy /health (the command returns once /health answers 200), BENCH_IMAGES_N
// times (default 3). Needs a Docker daemon and the base image of .ci/services/start.sh
// (BENCH_BASE, default llmops-test/bookworm-node:20) and a build (dist/).
//   node bench/images.bench.mjs
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin', 'run.js');
const PY = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const BASE = process.env.BENCH_BASE ?? process.env.LLMOPS_TEST_BASE_IMAGE ?? 'llmops-test/bookworm-node:20';
const N = Number(process.env.BENCH_IMAGES_N ?? 3);
const TAG = 'llmops-bench/server:1';

const docker = (args) => execFileSync('docker', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim();
try {
  docker(['image', 'inspect', BASE]);
} catch {
  console.log(`skipped: no docker daemon or no base image ${BASE} (run .ci/services/start.sh as root first)`);
  process.exit(0);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (b) => (b / 1e6).toFixed(0);

function cli(args, cwd) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {cwd, encoding: 'utf8', env: {...process.env, CI: '1', NO_COLOR: '1'}, maxBuffer: 1 << 26});
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`llmops ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return {s, json: r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : undefined};
}

// A project with a micro model trained by the real trainer (a few seconds).
const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-images-'));
writeFileSync(path.join(dir, 'llmops.yaml'), `python: ${PY}\n`);
const runDir = path.join(dir, 'run');
const data = path.join(dir, 'data');
mkdirSync(runDir, {recursive: true});
mkdirSync(data, {recursive: true});
const lines = Array.from({length: 100}, (_, i) => JSON.stringify({id: `t${i}`, text: `the cat sat on the mat ${i % 7}`}));
writeFileSync(path.join(data, 'train.jsonl'), lines.join('\n') + '\n');
writeFileSync(path.join(data, 'val.jsonl'), lines.slice(0, 10).join('\n') + '\n');
const spec = {version: 1, run_id: 'r-bench-images', kind: 'train', run_dir: runDir, dataset: {id: null, dir: data}, preset: 'tiny', max_steps: 5, seed: 1,
  overrides: {n_layer: 1, n_embd: 32, n_head: 2, context: 32}, eval_every: null, checkpoint_every: null, resume_from: null, finetune: null, tokenizer: 'byte', export: true, threads: 1};
writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(spec));
execFileSync(PY, [path.join(REPO, 'templates', 'trainer', 'train.py'), '--spec', path.join(runDir, 'spec.json')], {stdio: 'ignore'});

const load = () => os.loadavg()[0].toFixed(1);
console.log(`base ${BASE} (${mb(Number(docker(['image', 'inspect', '--format', '{{.Size}}', BASE])))} MB), load ${load()}`);
const cold = cli(['image', 'build', '--target', 'server', '--base', BASE, '--tag', TAG, '--no-cache', '--json'], dir);
const warm = cli(['image', 'build', '--target', 'server', '--base', BASE, '--tag', TAG, '--json'], dir);
const size = cold.json.images[0].sizeBytes;
const baseSize = Number(docker(['image', 'inspect', '--format', '{{.Size}}', BASE]));
console.log(`server image without a model: ${mb(size)} MB (base ${mb(baseSize)} MB + llmops ${mb(size - baseSize)} MB)`);
console.log(`image build --target server: cold (--no-cache) ${cold.s.toFixed(1)} s, warm (all cached) ${warm.s.toFixed(1)} s, load ${load()}`);

const times = [];
for (let i = 0; i < N; i++) {
  const up = cli(['deploy', '--target', 'docker', '--image', TAG, '--model', path.join(runDir, 'model'), '--name', `bench${i}`, '--port', '0', '--json'], dir);
  const ok = await fetch(up.json.url + '/health').then((r) => r.status);
  if (ok !== 200) throw new Error(`/health answered ${ok}`);
  times.push(up.s);
  cli(['deploy', 'stop', `bench${i}`, '--json'], dir);
}
console.log(`deploy --target docker to healthy /health: median ${median(times).toFixed(2)} s (${times.map((t) => t.toFixed(2)).join(', ')}), load ${load()}`);
