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
  if (!/^[\w.-]+\/[\w.-]+(@[^\s@]+)?$/.test(repo)) {
    throw usageError(`--base ${ref}: expected hf:OWNER/NAME`, {fix: 'Try this: --base hf:OWNER/NAME'});
  }
  const [name, revision = 'main'] = repo.split('@') as [string, string?];
  // Lazy: @huggingface/hub is only loaded by the commands that download.
  const {resolveRevision, listRepoFiles, downloadRepoFiles, writeRef} = await import('../hub/snapshot.js');
  // The endpoint (HF_ENDPOINT) and token (HF_TOKEN) come from the environment, read by src/lib/hub.
  // File by file through the resumable downloader: a cut download of a multi-GB checkpoint resumes.
  const opts = {cacheDir: path.resolve(loaded.root, loaded.config.cache_dir)};
  const sha = await resolveRevision(name, revision, opts, ref);
  const dir = await downloadRepoFiles(name, sha, await listRepoFiles(name, sha, opts), opts);
  writeRef(opts.cacheDir, name, revision, sha);
  return {dir, revision: sha};
}
