#!/usr/bin/env node
// Memory of a supervisor following a long run: `llmops train --max-steps 100000 --detach` on a
// micro model logging every step, the supervisor's RSS (VmRSS) and V8 heap sampled every
// BENCH_EVERY_S seconds for BENCH_SECONDS, with the step reached and the events file's size. A
// leak shows as RSS growing with the steps; flat RSS is the expected result.
//   node bench/supervisor-memory.bench.mjs     (BENCH_SECONDS=180 BENCH_EVERY_S=10)
// Needs a build (npm run build) and /usr/bin/python3 with torch. The run is stopped at the end.
import {execFileSync} from 'node:child_process';
import {cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repo, 'bin', 'run.js');
const python = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
const seconds = Number(process.env.BENCH_SECONDS ?? 180);
const every = Number(process.env.BENCH_EVERY_S ?? 10);

const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-supmem-'));
cpSync(path.join(repo, 'templates', 'trainer'), path.join(dir, 'trainer'), {recursive: true});
mkdirSync(path.join(dir, 'data'));
const words = 'the cat sat on a mat and the dog ran in the park while birds sang songs of summer'.split(' ');
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (const [split, n] of [['train', 400], ['val', 40]]) {
  const lines = Array.from({length: n}, (_, i) => JSON.stringify({id: `${split}-${i}`, text: Array.from({length: 24}, () => words[Math.floor(rnd() * words.length)]).join(' ')}));
  writeFileSync(path.join(dir, 'data', `${split}.jsonl`), lines.join('\n') + '\n');
}
// A micro model that logs every step: as many events per second as the trainer can make.
const ov = '{n_layer: 1, n_head: 2, n_embd: 32, context: 32, batch_size: 4, eval_every: 500, checkpoint_every: 2000, log_every: 1}';
writeFileSync(path.join(dir, 'llmops.yaml'), `python: ${python}\ntrain:\n  overrides: ${ov}\nbudget:\n  sample_interval_s: 0.5\n`);

const cli = (...args) => execFileSync(process.execPath, [bin, ...args], {cwd: dir, encoding: 'utf8', env: {...process.env, CI: '1', NO_COLOR: '1'}});
const run = JSON.parse(cli('train', '--dataset', 'data', '--max-steps', '100000', '--detach', '--json'));
const runDir = path.join(dir, '.llmops', 'runs', run.id);
function supervisorPid() {
  // The run's supervisor: the process whose command line is supervisor-main.js RUN_ID.
  for (;;) {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        if (args.some((a) => a.endsWith('supervisor-main.js')) && args.includes(run.id)) return Number(d);
      } catch {
        // gone
      }
    }
    execFileSync('sleep', ['0.5']);
  }
}
const kb = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const lastStep = () => {
  try {
    const tail = readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').trimEnd().split('\n').reverse();
    for (const l of tail) {
      const e = JSON.parse(l);
      if (e.type === 'metric') return e.step;
    }
  } catch {
    // not started yet
  }
  return 0;
};

const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100 per second)
};

/** Samples supervisor `pid` every `every` seconds for `secs` seconds. */
function follow(phase, pid, secs) {
  const rows = [];
  const t0 = Date.now();
  let cpu0 = ticks(pid);
  for (let t = 0; t <= secs; t += every) {
    const wait = t0 + t * 1000 - Date.now();
    if (wait > 0) execFileSync('sleep', [String(wait / 1000)]);
    let events = 0;
    try {
      events = statSync(path.join(runDir, 'events.jsonl')).size;
    } catch {
      // not yet
    }
    const cpu = ticks(pid);
    rows.push({phase, t_s: t, step: lastStep(), events_mb: +(events / 1e6).toFixed(2), rss_mb: +(kb(pid, 'VmRSS') / 1024).toFixed(1), cpu_pct: t === 0 ? null : Math.round(cpu - cpu0) / every});
    cpu0 = cpu;
    process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
  }
  const first = rows.find((r) => r.step > 0 && r.t_s >= 20) ?? rows[0];
  const last = rows.at(-1);
  const cpus = rows.map((r) => r.cpu_pct).filter((c) => c !== null);
  return {
    phase,
    pid,
    steps: last.step - first.step,
    rss_first_mb: first.rss_mb,
    rss_last_mb: last.rss_mb,
    rss_growth_kb_per_1000_steps: +(((last.rss_mb - first.rss_mb) * 1024) / Math.max(1, (last.step - first.step) / 1000)).toFixed(1),
    cpu_pct_median: [...cpus].sort((a, b) => a - b)[Math.floor(cpus.length / 2)],
    samples: rows,
  };
}

// Phase 1: the supervisor that started the run. Phase 2: it is killed (kill -9) and `runs list`
// starts a new one that adopts the running trainer (it is not the trainer's parent).
const original = follow('started the run', supervisorPid(), seconds / 2);
process.kill(original.pid, 'SIGKILL');
cli('runs', 'list');
let adoptedPid;
for (;;) {
  adoptedPid = supervisorPid();
  if (adoptedPid !== original.pid) break;
}
const adopted = follow('adopted the run', adoptedPid, seconds / 2);
cli('runs', 'stop', run.id);
console.log(JSON.stringify({run: run.id, seconds, every, original, adopted}, null, 2));
