#!/usr/bin/env node
// How monitor counts client errors (4xx), server errors (5xx) and cut-off requests in its one
// window scan, side by side on the same 1,000,000 requests (2% errors), all in the window:
//   - before:   the totals the scan had before the split (no classes),
//   - case:     three sums of boolean expressions over status and http_status,
//   - filtered: two sums over http_status FILTERed by status, server errors derived (kept).
// CPU time of each query (median of 5), through the covering index the ledger creates.
// Run: `node bench/monitor-classes.bench.mjs [rows]` (needs only node_modules, no build).
import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-classes-bench-'));
const db = new Database(path.join(dir, 'bench.db'));
db.exec(`CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, deployment_id TEXT NOT NULL, ts INTEGER NOT NULL,
  status TEXT NOT NULL, http_status INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
  ttft_ms REAL, e2e_ms REAL, itl_ms REAL, profile_json TEXT);
CREATE INDEX requests_summary ON requests(deployment_id, ts, status, http_status, prompt_tokens, completion_tokens, e2e_ms, ttft_ms, itl_ms);`);
const st = db.prepare(`INSERT INTO requests (deployment_id, ts, status, http_status, prompt_tokens, completion_tokens, ttft_ms, e2e_ms, itl_ms, profile_json)
  VALUES ('dep', ?, ?, ?, ?, ?, ?, ?, ?, '{"len":40,"terms":["a","b"]}')`);
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
db.transaction(() => {
  for (let i = 0; i < N; i++) {
    const x = rand();
    const [status, code] = x < 0.01 ? ['error', 400] : x < 0.015 ? ['error', 500] : x < 0.02 ? ['cancelled', 499] : ['ok', 200];
    st.run(i, status, code, 20 + (i % 40), 30 + (i % 90), 5 + rand() * 60, 80 + rand() * 900, 3 + rand() * 5);
  }
})();
db.pragma('mmap_size = 1073741824');
const base = `count(*), sum(status = 'ok'), sum(status = 'error'), sum(status = 'cancelled'), sum(prompt_tokens), sum(completion_tokens),
  min(ts), max(ts), sum(e2e_ms) FILTER (WHERE status = 'ok'), sum(ttft_ms) FILTER (WHERE status = 'ok'), sum(itl_ms) FILTER (WHERE status = 'ok')`;
const CLIENT = "(status = 'error' AND http_status >= 400 AND http_status < 500)";
const CUT = "(status = 'cancelled' AND http_status < 500)";
const WHERE = `FROM requests WHERE deployment_id = 'dep' AND ts >= 0 AND ts < ${N}`;
const variants = {
  before: `SELECT ${base} ${WHERE}`,
  case: `SELECT ${base}, sum(${CLIENT}), sum(status != 'ok' AND NOT ${CLIENT} AND NOT ${CUT}), sum(${CUT}) ${WHERE}`,
  filtered: `SELECT ${base}, sum(http_status >= 400 AND http_status < 500) FILTER (WHERE status = 'error'), sum(http_status < 500) FILTER (WHERE status = 'cancelled') ${WHERE}`,
};
const cpu = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let rep = 0; rep < 5; rep++) {
  for (const [k, q] of Object.entries(variants)) {
    const stmt = db.prepare(q);
    const c = process.cpuUsage();
    stmt.get();
    const u = process.cpuUsage(c);
    cpu[k].push((u.user + u.system) / 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = {rows: N, cpu_ms_median: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(median(v))])), machine: `${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`};
console.log(JSON.stringify(out, null, 2));
db.close();
rmSync(dir, {recursive: true, force: true});
