/**
 * `--base hf:OWNER/NAME`: the model is downloaded through src/lib/hub (@huggingface/hub) into the
 * project's cache, and the local directory becomes the base. The trainer never downloads.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {usageError} from '../errors.js';

export interface HubBase {
  /** The snapshot folder in the cache: what the trainer reads. */
  dir: string;
  /** The commit the snapshot is at (its folder name), for lineage: `main` moves, a commit does not. */
  revision: string | null;
}

export async function fetchHubBase(ref: string, loaded: LoadedConfig): Promise<HubBase> {
  const repo = ref.slice('hf:'.length);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw usageError(`--base ${ref}: expected hf:OWNER/NAME`, {fix: 'Try this: --base hf:OWNER/NAME'});
  }
  // Lazy: @huggingface/hub is only loaded by the commands that download.
  const {downloadRepo} = await import('../hub/index.js');
  // Passing the ref (not the bare repo) makes errors name what the user typed.
  // The endpoint (HF_ENDPOINT) and token (HF_TOKEN) come from the environment, read by src/lib/hub.
  const dir = await downloadRepo(ref, {cacheDir: path.resolve(loaded.root, loaded.config.cache_dir)});
  const commit = path.basename(dir);
  return {dir, revision: /^[0-9a-f]{40}$/.test(commit) ? commit : null};
}
