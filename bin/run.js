#!/usr/bin/env node
// The `llmops` entry point. `--version` is answered here without loading oclif: it is what
// scripts call most to check for the tool, and oclif alone costs ~100 ms to import (docs/benchmarks.md).
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const {readFileSync} = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`llmops/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const {execute} = await import('@oclif/core');
  await execute({dir: import.meta.url});
}
