#!/usr/bin/env node
// The `llmops` entry point. Normally it runs the start-up bundle (scripts/bundle.mjs: oclif and
// every command in one file, for a fast start). When the bundle is missing or older than tsc's
// output (someone ran `tsc` but not `npm run build`), it runs the unbundled commands instead, so a
// stale bundle never hides a change.
import {readFileSync, statSync} from 'node:fs';

const bundle = new URL('../dist/bundle/cli.js', import.meta.url);
const tscMarker = new URL('../dist/lib/errors.js', import.meta.url);
const mtime = (u) => {
  try {
    return statSync(u).mtimeMs;
  } catch {
    return -1;
  }
};

if (mtime(bundle) >= mtime(tscMarker) - 2000 && mtime(bundle) > 0) {
  const {execute} = await import(bundle.href);
  await execute({dir: import.meta.url});
} else {
  const root = new URL('..', import.meta.url);
  const pjson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  pjson.oclif.commands = './dist/commands';
  const {execute} = await import('@oclif/core');
  await execute({loadOptions: {root: decodeURIComponent(root.pathname), pjson, ignoreManifest: true}});
}
