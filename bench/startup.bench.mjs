#!/usr/bin/env node
/**
 * Start-up figures (issue: foundation): `llmops --version` against bare `node -e ''`, and
 * `llmops runs list` with 10,000 runs in the ledger against `llmops --version`, measured side by
 * side in one run. Uses hyperfine when installed (apt-get install hyperfine), else a simple
 * interleaved loop. Medians, 30 runs each after 3 warm-ups.
 *
 *   node bench/startup.bench.mjs            (after npm run build)
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repo, 'bin', 'run.js');
const {Ledger} = await import(path.join(repo, 'dist/lib/ledger/ledger.js'));

const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-startup-'));
writeFileSync(path.join(dir, 'llmops.yaml'), 'name: bench\n');
mkdirSync(path.join(dir, '.llmops'));
const ledger = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
const statuses = ['succeeded', 'failed', 'stopped', 'succeeded', 'budget_exceeded'];
ledger.transaction(() => {
  for (let i = 0; i < 10_000; i++) {
    const id = `r-bench-${String(i).padStart(5, '0')}`;
    ledger.insertRun({id, kind: i % 3 ? 'train' : 'finetune', backend: 'local', backendType: 'local', runDir: `/tmp/${id}`, spec: {i}, preset: 'tiny'});
    ledger.setRunStatus(id, 'running', 'started');
    ledger.setRunStatus(id, statuses[i % statuses.length], 'done', {exitCode: 0});
  }
});
ledger.close();

const commands = {
  node: `${process.execPath} -e ''`,
  version: `${process.execPath} ${bin} --version`,
  runsList: `${process.execPath} ${bin} runs list`,
  help: `${process.execPath} ${bin} --help`,
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let results;
const hasHyperfine = spawnSync('hyperfine', ['--version']).status === 0;
if (hasHyperfine) {
  const out = path.join(dir, 'hf.json');
  execFileSync('hyperfine', ['-N', '-w', '3', '-r', '30', '--export-json', out, ...Object.values(commands)], {cwd: dir, stdio: ['ignore', 'ignore', 'inherit']});
  const j = JSON.parse(readFileSync(out, 'utf8'));
  results = Object.fromEntries(Object.keys(commands).map((k, i) => [k, j.results[i].median * 1000]));
} else {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let r = 0; r < 33; r++) {
    for (const [k, c] of Object.entries(commands)) {
      const [file, ...args] = c.split(' ');
      const t = process.hrtime.bigint();
      spawnSync(file, args.map((a) => (a === "''" ? '' : a)), {cwd: dir, stdio: 'ignore'});
      if (r >= 3) times[k].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  results = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}
rmSync(dir, {recursive: true, force: true});

const f = (ms) => `${ms.toFixed(1)} ms`;
console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`);
console.log(`node -e ''                 ${f(results.node)}`);
console.log(`llmops --version           ${f(results.version)}   ${(results.version / results.node).toFixed(2)}x node   (target <= 2.0x)`);
console.log(`llmops --help              ${f(results.help)}   ${(results.help / results.node).toFixed(2)}x node`);
console.log(`llmops runs list (10k runs) ${f(results.runsList)}   ${(results.runsList / results.version).toFixed(2)}x --version   (target <= 1.5x)`);
console.log(JSON.stringify({bench: 'startup', ...results}));
