/**
 * The root of the installed llmops package (where package.json, bin/ and templates/ are), found
 * by walking up from this module. Code is run from src/ (tests), dist/ (tsc) and the start-up
 * bundle (dist/bundle/), at different depths, so a fixed number of `..` would be wrong somewhere.
 */
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as {name?: string}).name === 'llmops') return (cached = dir);
      } catch {
        // not ours: keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`llmops: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A path inside the package (e.g. 'templates', 'bin/run.js', 'dist/lib/data/worker.js'). */
export const packagePath = (...parts: string[]): string => path.join(packageRoot(), ...parts);
