#!/usr/bin/env node
/**
 * Builds the start-up bundle dist/bundle/cli.js: every command, the code they import at start-up,
 * and @oclif/core itself, in one ES module (plus lazily loaded chunks), so that Node resolves and
 * reads one file instead of hundreds. Measured: importing @oclif/core from the bundle takes about
 * half the time of importing it from node_modules (docs/benchmarks.md, "Start-up").
 *
 * Heavy or native packages stay external and are imported lazily by the code that needs them.
 * oclif finds the commands through the bundle's COMMANDS export ("explicit" command discovery in
 * package.json); `oclif manifest` reads the same export.
 *
 *   node scripts/bundle.mjs [--outdir DIR]
 */
import {readdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {build} from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--outdir');
const outdir = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'bundle');
const commandsDir = path.join(root, 'src', 'commands');

function walk(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : [],
  );
}

const files = walk(commandsDir).sort();
const imports = [];
const entries = [];
for (const [i, file] of files.entries()) {
  const rel = path.relative(commandsDir, file).replace(/\.ts$/, '').split(path.sep);
  if (rel.at(-1) === 'index') rel.pop();
  imports.push(`import C${i} from ${JSON.stringify('./' + path.relative(root, file).split(path.sep).join('/'))};`);
  entries.push(`  ${JSON.stringify(rel.join(':'))}: C${i},`);
}
const entry = `${imports.join('\n')}
export const COMMANDS = {
${entries.join('\n')}
};
export {execute, flush, handle, run} from '@oclif/core';
`;

// Native addons, large packages and packages only some commands use: loaded from node_modules
// when (and only when) a command imports them.
const external = [
  'better-sqlite3',
  'onnxruntime-node',
  'onnxruntime-common',
  '@huggingface/*',
  'execa',
  'ora',
  '@inquirer/*',
  'csv-parse',
  'openai',
  'playwright-core',
  'typescript',
  'ts-node',
  'tsx',
  'fastify',
];

await build({
  stdin: {contents: entry, resolveDir: root, sourcefile: 'cli-entry.ts', loader: 'ts'},
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  entryNames: 'cli',
  chunkNames: 'chunks/[name]-[hash]',
  external,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM call require() for Node built-ins.
  banner: {js: "import {createRequire as __llmopsCreateRequire} from 'node:module'; const require = __llmopsCreateRequire(import.meta.url);"},
});
process.stdout.write(`bundled ${files.length} commands into ${path.relative(root, outdir)}/cli.js\n`);
