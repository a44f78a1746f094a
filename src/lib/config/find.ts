/** Finding llmops.yaml: walk up from a directory, as git finds `.git`. No parsing here. */
import {existsSync} from 'node:fs';
import path from 'node:path';

export const CONFIG_FILE = 'llmops.yaml';

/** Walks up from `start` to the first directory holding llmops.yaml (or .yml). */
export function findConfigFile(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    for (const name of [CONFIG_FILE, 'llmops.yml']) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
