#!/usr/bin/env node
// Pipeline planning time (issue 17): a 10-stage pipeline over a ledger of 10,000 runs (and 10,000
// earlier stage executions), every stage up to date, so planning is all the work there is.
// Builds a temp project whose ledger holds 10,000 succeeded runs; plans the pipeline stage by
// stage once, recording each stage as succeeded with its real input hash (as a real run would),
// then times:
//   - the library call runPipeline({dryRun: true}) on an open ledger (planning only),
//   - `llmops pipeline run --json` end to end (a fresh node process; every stage skipped),
//   - `llmops models list --json` end to end: the start-up of a command that opens the ledger.
// Run after a build: `npm run bench -- pipeline` or `node bench/pipeline.bench.mjs [runs]`.
import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const {Ledger} = await import(path.join(root, 'dist/lib/ledger/ledger.js'));
const {loadConfig} = await import(path.join(root, 'dist/lib/config/load.js'));
const {runPipeline} = await import(path.join(root, 'dist/lib/pipeline/run.js'));

const RUNS = Number(process.argv[2] ?? 10_000);
const REPEAT = 7;
const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-pipeline-bench-'));
const db = path.join(dir, '.llmops', 'llmops.db');

// A project of the quickstart's size: sample inputs and a trainer folder of a dozen files.
mkdirSync(path.join(dir, 'data', 'sample'), {recursive: true});
for (const f of ['corpus.jsonl', 'instructions.jsonl']) {
  writeFileSync(path.join(dir, 'data', 'sample', f), Array.from({length: 300}, (_, i) => JSON.stringify({text: `document ${i} about owls and the night`})).join('\n') + '\n');
}
mkdirSync(path.join(dir, 'trainer'), {recursive: true});
for (let i = 0; i < 12; i++) writeFileSync(path.join(dir, 'trainer', `m${i}.py`), `# trainer module ${i}\n`.repeat(200));
writeFileSync(path.join(dir, 'trainer', 'train.py'), 'print("train")\n');

// Ten stages: prep, train, three fine-tunes (different LoRA ranks), their evals, one promote.
const stages = `pipeline:
  stages:
    - kind: prep
    - kind: train
    - {name: ft-r4, kind: finetune, needs: [train], options: {lora: {r: 4}}}
    - {name: ft-r8, kind: finetune, needs: [train], options: {lora: {r: 8}}}
    - {name: ft-r16, kind: finetune, needs: [train], options: {lora: {r: 16}}}
    - {name: eval-r4, kind: eval, needs: [ft-r4]}
    - {name: eval-r8, kind: eval, needs: [ft-r8]}
    - {name: eval-r16, kind: eval, needs: [ft-r16]}
    - {name: export-r8, kind: export, needs: [ft-r8]}
    - {name: promote, kind: promote, needs: [eval-r8], options: {model: chat, alias: prod}}
`;
writeFileSync(path.join(dir, 'llmops.yaml'), `name: pipeline-bench\ndata:\n  inputs: ["data/sample/*.jsonl"]\n${stages}`);

const ledger = Ledger.open(db);
const insertRuns = ledger.db.transaction(() => {
  for (let i = 0; i < RUNS; i++) {
    const id = `r-bench-${String(i).padStart(6, '0')}`;
    ledger.insertRun({id, kind: i % 2 ? 'finetune' : 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: path.join(dir, '.llmops', 'runs', id), spec: {}});
  }
});
insertRuns();
// Earlier executions: RUNS stage rows with other hashes, as a long history would leave.
const insertHistory = ledger.db.transaction(() => {
  for (let i = 0; i < RUNS; i++) {
    ledger.pipeline.addStage({executionId: `p-old-${Math.floor(i / 10)}`, stage: ['prep', 'train', 'ft-r4', 'ft-r8', 'ft-r16', 'eval-r4', 'eval-r8', 'eval-r16', 'export-r8', 'promote'][i % 10], kind: 'x', decision: 'run', reason: 'old', inputHash: `old-${i}`, inputs: {kind: 'x', files: {}, config: {}, upstream: {}}, status: 'succeeded'});
  }
});
insertHistory();

// Outputs that a real run would have left (stillValid checks them).
const dataDir = path.join(dir, 'data', 'prepared');
mkdirSync(dataDir, {recursive: true});
writeFileSync(path.join(dataDir, 'train.jsonl'), '{"text": "x"}\n');
const runWithModel = (i) => {
  const id = `r-bench-${String(i).padStart(6, '0')}`;
  mkdirSync(path.join(dir, '.llmops', 'runs', id, 'model'), {recursive: true});
  writeFileSync(path.join(dir, '.llmops', 'runs', id, 'model', 'config.json'), '{}');
  return id;
};
ledger.registry.addVersion({name: 'chat', source: 'run', runId: runWithModel(3)});
ledger.registry.appendAliasMove({name: 'chat', alias: 'prod', action: 'move', from: null, to: 1});
const OUTPUTS = {
  prep: {id: 'ds-bench', datasetId: 'ds-bench', datasetDir: dataDir},
  train: {id: runWithModel(0), runId: runWithModel(0)},
  'ft-r4': {id: runWithModel(1), runId: runWithModel(1)},
  'ft-r8': {id: runWithModel(3), runId: runWithModel(3)},
  'ft-r16': {id: runWithModel(5), runId: runWithModel(5)},
  'eval-r4': {id: 'eval-1', runId: runWithModel(1)},
  'eval-r8': {id: 'eval-3', runId: runWithModel(3)},
  'eval-r16': {id: 'eval-5', runId: runWithModel(5)},
  'export-r8': {id: 'export-3', runId: runWithModel(3), modelDir: path.join(dir, '.llmops', 'runs', runWithModel(3), 'model')},
  promote: {id: 'chat@v1', runId: runWithModel(3), model: {name: 'chat', alias: 'prod', version: 1, from: null, moved: true}},
};

const loaded = await loadConfig({cwd: dir});
const io = {ledger, loaded, progress: () => {}};
// Mark stages succeeded one by one with the hash the planner computes, as real executions would.
for (let pass = 0; pass < 10; pass++) {
  const plan = await runPipeline(io, {only: [], force: [], dryRun: true});
  const next = plan.stages.find((s) => s.decision === 'run' && s.inputHash);
  if (!next) break;
  ledger.pipeline.addStage({executionId: 'p-bench', stage: next.name, kind: next.kind, decision: 'run', reason: 'bench', inputHash: next.inputHash, inputs: {}, status: 'succeeded', output: OUTPUTS[next.name]});
}
const check = await runPipeline(io, {only: [], force: [], dryRun: true});
const notSkipped = check.stages.filter((s) => s.decision !== 'skip');
if (notSkipped.length > 0) throw new Error(`setup: stages not up to date: ${notSkipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lib = [];
for (let i = 0; i < REPEAT; i++) {
  const t0 = performance.now();
  await runPipeline(io, {only: [], force: [], dryRun: true});
  lib.push(performance.now() - t0);
}
ledger.close();

const cli = (args) => {
  const out = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {cwd: dir, encoding: 'utf8', env: {...process.env, NO_COLOR: '1', CI: '1'}});
    out.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    if (args[0] === 'pipeline') {
      const j = JSON.parse(r.stdout);
      if (!j.stages.every((s) => s.status === 'skipped')) throw new Error('a stage ran');
    }
  }
  return out;
};
const run = cli(['pipeline', 'run', '--json']);
const startup = cli(['models', 'list', '--json']);
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
console.log(`ledger: ${RUNS.toLocaleString('en-US')} runs, ${RUNS.toLocaleString('en-US')} earlier stage executions; pipeline: 10 stages, all up to date; load average ${os.loadavg()[0].toFixed(1)}`);
console.log(`library plan (runPipeline dry run):          ${fmt(lib)}`);
console.log(`llmops pipeline run --json (all skipped):    ${fmt(run)}`);
console.log(`llmops models list --json (start-up only):   ${fmt(startup)}`);
rmSync(dir, {recursive: true, force: true});
