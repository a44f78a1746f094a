#!/usr/bin/env node
// Overhead from `llmops train --backend <ssh|slurm>` to the first training step, against the same
// trainer started by hand (rsync + ssh, or sbatch). Needs the loopback services of
// .ci/services/start.sh and a build (dist/). Each case starts from a fresh remote workdir, so the
// trainer and dataset are copied every time on both sides.
//
// The "first step" is the trainer's own timestamp on its first metric event (events.jsonl), so
// both sides are measured by the same clock at the same point; t0 is taken just before the
// command starts. Run: `node bench/remote.bench.mjs` (BENCH_REMOTE_N=3 repetitions by default).
import {execFileSync, spawnSync} from 'node:child_process';
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin', 'run.js');
const PY = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const N = Number(process.env.BENCH_REMOTE_N ?? 3);
const SERVICES = path.join(process.env.LLMOPS_SERVICES_DIR ?? '/tmp/llmops-services', 'services.json');
const MICRO = {n_layer: 1, n_head: 2, n_embd: 32, context: 32, batch_size: 4, log_every: 1, eval_every: 1000};
const STEPS = 5;

if (!existsSync(SERVICES)) {
  console.log(`skipped: ${SERVICES} not found (run .ci/services/start.sh as root first)`);
  process.exit(0);
}
const svc = JSON.parse(readFileSync(SERVICES, 'utf8'));
const {Ledger} = await import(path.join(REPO, 'dist/lib/ledger/ledger.js'));

const tmp = (p) => mkdtempSync(path.join(os.tmpdir(), p));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sshArgs = ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${svc.ssh.known_hosts}`, '-i', svc.ssh.identity_file, '-p', String(svc.ssh.port)];

function firstMetricTs(eventsFile) {
  for (const line of readFileSync(eventsFile, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line);
    if (e.type === 'metric' && e.values?.loss !== undefined) return e.ts * 1000;
  }
  throw new Error(`no metric in ${eventsFile}`);
}

function waitFile(file, pred, ms = 180_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file) && pred(readFileSync(file, 'utf8'))) return;
    execFileSync('sleep', ['0.2']);
  }
  throw new Error(`timed out waiting for ${file}`);
}

function project(backends) {
  const dir = tmp('llmops-bench-remote-');
  cpSync(path.join(REPO, 'templates', 'trainer'), path.join(dir, 'trainer'), {recursive: true});
  const data = path.join(dir, 'data', 'prepared');
  mkdirSync(data, {recursive: true});
  const rows = (n, o) => Array.from({length: n}, (_, i) => JSON.stringify({id: `r${o + i}`, text: `the small model reads line ${o + i} of a tiny corpus`})).join('\n') + '\n';
  writeFileSync(path.join(data, 'train.jsonl'), rows(200, 0));
  writeFileSync(path.join(data, 'val.jsonl'), rows(20, 1000));
  const ov = JSON.stringify(MICRO);
  writeFileSync(path.join(dir, 'llmops.yaml'), `python: ${PY}\ntrain:\n  overrides: ${ov}\nbackends: ${JSON.stringify(backends)}\n`);
  mkdirSync(path.join(dir, '.llmops'), {recursive: true});
  const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
  l.upsertDataset({id: 'ds-bench', path: 'data/prepared', manifestSha256: 'x'.repeat(64), manifest: {}, records: 220, kind: 'text'});
  l.close();
  return {dir, data};
}

function trainerSpec(runDir, datasetDir) {
  return {version: 1, run_id: path.basename(runDir), kind: 'train', run_dir: runDir, dataset: {id: 'ds-bench', dir: datasetDir}, preset: 'tiny', max_steps: STEPS, seed: 1, overrides: MICRO, eval_every: null, checkpoint_every: null, resume_from: null, finetune: null, tokenizer: 'byte', export: false, threads: null};
}

// ---- llmops train --backend NAME --detach: t0 -> first metric in the run's events ------------
function viaLlmops(backendName, cfg, eventsFile) {
  const p = project({[backendName]: cfg});
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'train', '--backend', backendName, '--max-steps', String(STEPS), '--detach', '--json'], {cwd: p.dir, encoding: 'utf8', env: {...process.env, CI: '1'}});
  if (r.status !== 0) throw new Error(`llmops train failed: ${r.stderr}`);
  const id = JSON.parse(r.stdout).id;
  const events = eventsFile(id, p.dir);
  waitFile(events, (t) => t.includes('"loss"'));
  const ms = firstMetricTs(events) - t0;
  // Let the run finish (export, fetch) so that cases do not overlap.
  const db = path.join(p.dir, '.llmops', 'llmops.db');
  waitFile(db, () => {
    const l = Ledger.open(db);
    const st = l.getRun(id).status;
    l.close();
    return !['queued', 'running'].includes(st);
  });
  return ms;
}

// ---- by hand over ssh: rsync trainer + dataset + spec, then ssh python ------------------------
function sshByHand() {
  const p = project({});
  const wd = tmp('llmops-bench-wd-');
  const runDir = path.join(wd, 'run');
  const stage = tmp('llmops-bench-stage-');
  writeFileSync(path.join(stage, 'spec.json'), JSON.stringify(trainerSpec(runDir, path.join(wd, 'data'))));
  const e = ['ssh', ...sshArgs].join(' ');
  const t0 = Date.now();
  execFileSync('rsync', ['-a', '-e', e, path.join(p.dir, 'trainer') + '/', `${svc.ssh.host}:${wd}/trainer/`]);
  execFileSync('rsync', ['-a', '-e', e, p.data + '/', `${svc.ssh.host}:${wd}/data/`]);
  execFileSync('rsync', ['-a', '-e', e, stage + '/', `${svc.ssh.host}:${runDir}/`]);
  execFileSync('ssh', [...sshArgs, svc.ssh.host, `cd ${wd} && LLMOPS_EVENTS=${runDir}/events.jsonl ${PY} trainer/train.py --spec ${runDir}/spec.json > ${runDir}/run.log 2>&1`]);
  return firstMetricTs(path.join(runDir, 'events.jsonl')) - t0;
}

// ---- by hand with sbatch: a script with the same resources, run in place -----------------------
function sbatchByHand() {
  const p = project({});
  const runDir = path.join(p.dir, 'run');
  mkdirSync(runDir, {recursive: true});
  writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(trainerSpec(runDir, p.data)));
  writeFileSync(
    path.join(runDir, 'job.sh'),
    `#!/bin/bash\n#SBATCH --output=${runDir}/job.log\n#SBATCH --gpus-per-node=1\n#SBATCH --partition=${svc.slurm.partition}\ncd ${p.dir}\nexport LLMOPS_EVENTS=${runDir}/events.jsonl\n${PY} trainer/train.py --spec ${runDir}/spec.json\n`,
  );
  const t0 = Date.now();
  execFileSync('sbatch', ['--parsable', path.join(runDir, 'job.sh')]);
  waitFile(path.join(runDir, 'events.jsonl'), (t) => t.includes('"status":"succeeded"') || t.includes('"failed"'));
  return firstMetricTs(path.join(runDir, 'events.jsonl')) - t0;
}

const sshCfg = (wd) => ({type: 'ssh', host: svc.ssh.host, port: svc.ssh.port, identity_file: svc.ssh.identity_file, ssh_options: [`UserKnownHostsFile=${svc.ssh.known_hosts}`], workdir: wd, python: PY});
const slurmCfg = () => ({type: 'slurm', python: PY, partition: svc.slurm.partition, gpus_per_node: 1, gpu_gres: svc.slurm.gpu_type});

const cases = {
  'ssh: by hand (rsync + ssh python)': () => sshByHand(),
  'ssh: llmops train --backend ssh': () => {
    const wd = tmp('llmops-bench-wd-');
    return viaLlmops('box', sshCfg(wd), (id) => path.join(wd, id, 'events.jsonl'));
  },
  'slurm: by hand (sbatch script)': () => sbatchByHand(),
  'slurm: llmops train --backend slurm': () => viaLlmops('cluster', slurmCfg(), (id, dir) => path.join(dir, '.llmops', 'runs', id, 'events.jsonl')),
};

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; node ${process.version}; N=${N}`);
const results = {};
for (let i = 0; i < N; i++) {
  for (const [name, fn] of Object.entries(cases)) {
    const ms = fn();
    (results[name] ??= []).push(ms);
    console.log(`  ${name}: ${(ms / 1000).toFixed(2)} s`);
  }
}
console.log('\n| case | median time to first step | runs |\n| --- | --- | --- |');
for (const [name, xs] of Object.entries(results)) console.log(`| ${name} | ${(median(xs) / 1000).toFixed(2)} s | ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')} |`);
const d = (a, b) => ((median(results[a]) - median(results[b])) / 1000).toFixed(2);
console.log(`\noverhead ssh: ${d('ssh: llmops train --backend ssh', 'ssh: by hand (rsync + ssh python)')} s; slurm: ${d('slurm: llmops train --backend slurm', 'slurm: by hand (sbatch script)')} s`);
console.log(`load after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
