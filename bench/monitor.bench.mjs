#!/usr/bin/env node
// Monitor read speed with 1,000,000 requests in the ledger (issue 7: "the summary comes back in
// under a second"). Builds a temp project whose ledger holds 1M requests of one deployment spread
// over 7 days, then times:
//   - `llmops monitor DEP --json` end to end (a fresh node process, default 1 h window),
//   - the library call monitorDeployment() on an open ledger (same window),
//   - both again with --since 7d, the worst case where all 1M rows are in the window.
// Run after a build: `npm run bench -- monitor` or `node bench/monitor.bench.mjs [rows]`.
import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const {Ledger} = await import(path.join(root, 'dist/lib/ledger/ledger.js'));
const {monitorDeployment} = await import(path.join(root, 'dist/lib/monitor/index.js'));
const {configSchema} = await import(path.join(root, 'dist/lib/config/schema.js'));
const {requestProfile, ReferenceProfileBuilder} = await import(path.join(root, 'dist/lib/profile/profile.js'));

const N = Number(process.argv[2] ?? 1_000_000);
const REPEAT = 5;
const DAYS = 7;
const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-monitor-bench-'));
const db = path.join(dir, '.llmops', 'llmops.db');
writeFileSync(path.join(dir, 'llmops.yaml'), 'name: monitor-bench\n');

const prompts = [
  'How do I reset my password for the billing portal?',
  'My invoice shows the wrong amount, can you help?',
  'Summarise this support ticket about a failed card payment in two sentences.',
  'Translate the following customer message into French and keep the tone polite.',
];
const builder = new ReferenceProfileBuilder();
for (const p of prompts) builder.add(p);
const modelDir = path.join(dir, 'model');
mkdirSync(modelDir, {recursive: true});
writeFileSync(path.join(modelDir, 'reference_profile.json'), JSON.stringify(builder.build()));

const now = Date.now();
const ledger = Ledger.open(db);
ledger.insertDeployment({
  id: 'dep-bench', name: 'bench', status: 'running', model_run_id: null, model_dir: modelDir, target: 'local',
  host: '127.0.0.1', port: 8000, url: 'http://127.0.0.1:8000/v1', pid: null, log_path: null, price_per_hour: 1.2,
  config_json: '{}', started_at: new Date(now - DAYS * 86_400_000).toISOString(),
});
const profiles = prompts.map((p) => JSON.stringify(requestProfile(p)));
const stmt = ledger.db.prepare(
  `INSERT INTO requests (deployment_id, ts, endpoint, stream, status, http_status, finish_reason, prompt_tokens,
     completion_tokens, queue_ms, ttft_ms, e2e_ms, itl_ms, prompt_chars, profile_json)
   VALUES ('dep-bench', ?, 'chat', 1, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
);
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const insert = ledger.db.transaction((from, to) => {
  for (let i = from; i < to; i++) {
    const ts = Math.floor(now - DAYS * 86_400_000 + (i / N) * DAYS * 86_400_000);
    const err = rand() < 0.02;
    stmt.run(ts, err ? 'error' : 'ok', err ? 500 : 200, err ? 'error' : 'stop', 20 + (i % 40), 30 + (i % 90),
      5 + rand() * 60, 80 + rand() * 900, 3 + rand() * 5, 60 + (i % 80), profiles[i % profiles.length]);
  }
});
let t0 = performance.now();
for (let i = 0; i < N; i += 50_000) insert(i, Math.min(N, i + 50_000));
const genS = (performance.now() - t0) / 1000;
ledger.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// CPU time (user + sys) next to wall time: on a shared, loaded machine wall time measures the
// neighbours as much as monitor; CPU time of this single-threaded work is what an idle machine's
// wall time would be. The child's CPU time comes from a wrapper that reports its own cpuUsage.
const CPU_WRAP = `const t=process.cpuUsage();process.on('exit',()=>{const u=process.cpuUsage(t);process.stderr.write('\\nCPU_MS='+((u.user+u.system)/1000)+'\\n')});await import(${JSON.stringify(path.join(root, 'bin/run.js'))});`;
function cli(args) {
  const times = [];
  const cpu = [];
  let out;
  for (let i = 0; i < REPEAT; i++) {
    const s = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', CPU_WRAP, 'x', 'monitor', 'dep-bench', '--json', ...args], {cwd: dir, encoding: 'utf8'});
    times.push(performance.now() - s);
    if (r.status !== 0) throw new Error(`monitor failed (${r.status}): ${r.stderr}${r.stdout}`);
    cpu.push(Number(/CPU_MS=([\d.]+)/.exec(r.stderr)?.[1]));
    out = JSON.parse(r.stdout);
  }
  return {ms: median(times), min: Math.min(...times), cpu_ms: median(cpu), requests: out.requests};
}
async function lib(since) {
  const l = Ledger.open(db, {readonly: true});
  const cfg = configSchema.parse({}).monitor;
  const times = [];
  const cpu = [];
  let out;
  for (let i = 0; i < REPEAT; i++) {
    const s = performance.now();
    const c = process.cpuUsage();
    out = await monitorDeployment(l, cfg, {deployment: 'dep-bench', since});
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
    times.push(performance.now() - s);
  }
  l.close();
  return {ms: median(times), min: Math.min(...times), cpu_ms: median(cpu), requests: out.requests};
}
function startup() {
  const times = [];
  for (let i = 0; i < REPEAT; i++) {
    const s = performance.now();
    spawnSync(process.execPath, [path.join(root, 'bin/run.js'), 'config', 'show', '--json'], {cwd: dir});
    times.push(performance.now() - s);
  }
  return median(times);
}

// MONITOR_BENCH_LIB_ONLY=1: only the library call (a machine with dist/ and the few runtime
// modules it imports, but not the CLI's whole node_modules).
const libOnly = process.env.MONITOR_BENCH_LIB_ONLY === '1';
const results = {
  rows: N,
  generate_s: Number(genS.toFixed(1)),
  cli_startup_config_show_ms: libOnly ? null : Math.round(startup()),
  window_1h: {cli: libOnly ? null : cli([]), lib: await lib(undefined)},
  window_7d_all_rows: {cli: libOnly ? null : cli(['--since', '7d']), lib: await lib('7d')},
  machine: `${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
};
for (const k of ['window_1h', 'window_7d_all_rows']) for (const w of ['cli', 'lib']) {
  const r = results[k][w];
  if (!r) continue;
  r.ms = Math.round(r.ms);
  r.min = Math.round(r.min);
  r.cpu_ms = Math.round(r.cpu_ms);
}
console.log(JSON.stringify(results, null, 2));
rmSync(dir, {recursive: true, force: true});
