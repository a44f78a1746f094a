#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.mjs in turn (or those named on the command line) and
// prints their results; each script appends nothing by itself: copy the figures into
// docs/benchmarks.md with the machine they ran on.
import {readdirSync} from 'node:fs';
import {spawnSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const s of scripts) {
  process.stdout.write(`\n=== ${s} ===\n`);
  const r = spawnSync(process.execPath, [path.join(dir, s)], {stdio: 'inherit'});
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
