/**
 * A cache of the validated config, so that read-only commands (runs list, cost...) start without
 * loading the YAML parser and zod (together about a third of `llmops runs list`'s start-up:
 * docs/benchmarks.md). The cache is keyed by the llmops build and the file's exact bytes, and lives
 * beside the ledger in the project's .llmops/. Only validated configs are cached: a bad file is
 * parsed and reported every time.
 */
import {createHash} from 'node:crypto';
import {mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {findConfigFile} from './find.js';
import type {LoadedConfig, LoadOptions} from './load.js';

interface CacheFile {
  key: string;
  config: LoadedConfig['config'];
}

/**
 * Like loadConfig, but answers from the cache when `buildId` (the bundle's source fingerprint) and
 * the file's bytes match. Without a buildId (unbundled development runs) it never caches.
 */
export async function loadConfigCached(opts: LoadOptions & {buildId?: string}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.file ? path.resolve(cwd, opts.file) : findConfigFile(cwd);
  let text: string | undefined;
  let key: string | undefined;
  let cachePath: string | undefined;
  if (file && opts.buildId) {
    try {
      text = readFileSync(file, 'utf8');
      key = createHash('sha256').update(opts.buildId).update('\0').update(file).update('\0').update(text).digest('hex');
      cachePath = path.join(path.dirname(file), '.llmops', 'config-cache.json');
      const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as CacheFile;
      if (cached.key === key) return {config: cached.config, file, root: path.dirname(file)};
    } catch {
      // No cache yet, or unreadable: parse below.
    }
  }
  const {loadConfig} = await import('./load.js');
  const loaded = loadConfig(opts);
  // A config that holds a secret (a pasted token, a password in a URL) is never written to disk:
  // such projects parse their YAML each time rather than keep a second copy of the secret.
  const {hasSecrets} = await import('./mask.js');
  if (key && cachePath && loaded.file === file && hasSecrets(loaded.config)) {
    try {
      rmSync(cachePath, {force: true});
    } catch {
      // a read-only project: there is no cache to remove either
    }
  } else if (key && cachePath && loaded.file === file) {
    try {
      mkdirSync(path.dirname(cachePath), {recursive: true});
      const tmp = `${cachePath}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({key, config: loaded.config} satisfies CacheFile));
      renameSync(tmp, cachePath);
    } catch {
      // A read-only project still works, just without the cache.
    }
  }
  return loaded;
}
