#!/usr/bin/env node
/**
 * Builds the start-up bundle dist/bundle/cli.js: every command file, the base command and
 * @oclif/core in one ES module, so that Node resolves and compiles one file instead of the ~150
 * files @oclif/core is made of (measured: docs/benchmarks.md, "Start-up").
 *
 * Only the CLI layer is bundled. Everything else under src/lib stays external and is imported from
 * tsc's output in dist/lib (commands import it lazily), so:
 *   - library code has one instance (one LlmopsError class, one chalk) whichever way it is reached;
 *   - `tsc` alone refreshes library code; bin/run.js falls back to the unbundled commands when the
 *     bundle is older than tsc's output (e.g. during development).
 * Native and large packages stay external too. oclif finds the commands through the bundle's
 * COMMANDS export ("explicit" command discovery in package.json); `oclif manifest` reads it too.
 *
 *   node scripts/bundle.mjs
 */
import {readdirSync, readFileSync} from 'node:fs';
import {createHash} from 'node:crypto';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {build} from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');
const src = path.join(root, 'src');
const commandsDir = path.join(src, 'commands');
// Files of src/lib that belong to the CLI layer (they import @oclif/core): bundled with the commands.
const BUNDLED_LIB = new Set(['lib/ui/base-command.ts', 'lib/ui/run-flags.ts']);

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

/** Relative imports of src/lib (other than the CLI layer) become imports of dist/lib. */
const libExternal = {
  name: 'lib-external',
  setup(b) {
    b.onResolve({filter: /^\.\.?\//}, (args) => {
      if (!args.importer.startsWith(src)) return undefined;
      const abs = path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      const rel = path.relative(src, abs).split(path.sep).join('/');
      if (!rel.startsWith('lib/') || BUNDLED_LIB.has(rel)) return undefined;
      const target = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
      return {path: path.relative(outdir, target).split(path.sep).join('/').replace(/^(?!\.)/, './'), external: true};
    });
  },
};

// A fingerprint of the sources, for caches that must not outlive a rebuild (config cache).
const hash = createHash('sha256');
for (const f of walk(src).sort()) hash.update(f).update(readFileSync(f));
const buildId = hash.digest('hex').slice(0, 16);

const result = await build({
  stdin: {contents: entry, resolveDir: root, sourcefile: 'cli-entry.ts', loader: 'ts'},
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: path.join(outdir, 'cli.js'),
  // @oclif/core and its dependencies are what start-up pays for: bundle them. Every other package
  // our code imports (chalk, zod, yaml, native addons...) is loaded from node_modules by the code
  // that needs it, as tsc's output does.
  plugins: [
    libExternal,
    {
      name: 'packages',
      setup(b) {
        b.onResolve({filter: /^[^./]/}, (args) => {
          // oclif's development mode loads a TypeScript compiler: never at start-up, never bundled.
          if (/^(typescript|ts-node|tsx)(\/|$)/.test(args.path)) return {path: args.path, external: true};
          if (args.path.startsWith('node:') || !args.importer.startsWith(src) || args.path === '@oclif/core') return undefined;
          return {path: args.path, external: true};
        });
      },
    },
  ],
  define: {__LLMOPS_BUILD_ID__: JSON.stringify(buildId)},
  metafile: true,
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM call require() for Node built-ins.
  banner: {js: "import {createRequire as __llmopsCreateRequire} from 'node:module'; const require = __llmopsCreateRequire(import.meta.url);"},
});
const {writeFileSync} = await import('node:fs');
writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));
process.stdout.write(`bundled ${files.length} commands into dist/bundle/cli.js (build ${buildId})\n`);
