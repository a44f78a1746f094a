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

/** What a tokenizer needs of a model repository (ids, special tokens, chat template, EOS lists). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json', 'config.json'];

/**
 * Downloads `ref` (every file, or those `only` keeps: `train --tokenizer hf:` needs the tokenizer,
 * not gigabytes of weights) and returns the snapshot folder and its commit. `progress` hears of
 * resumed and retried transfers.
 */
export async function fetchHubBase(ref: string, loaded: LoadedConfig, o: {only?: (file: string) => boolean; progress?: (m: string) => void} = {}): Promise<HubBase> {
  const only = o.only;
  const repo = ref.slice('hf:'.length);
  if (!/^[\w.-]+\/[\w.-]+(@[^\s@]+)?$/.test(repo)) {
    throw usageError(`${ref}: expected hf:OWNER/NAME or hf:OWNER/NAME@REVISION`, {fix: 'Try this: hf:HuggingFaceTB/SmolLM2-135M'});
  }
  const [name, revision = 'main'] = repo.split('@') as [string, string?];
  // Lazy: @huggingface/hub is only loaded by the commands that download.
  const {resolveRevision, listRepoFiles, downloadRepoFiles, writeRef} = await import('../hub/snapshot.js');
  // The endpoint (HF_ENDPOINT) and token (HF_TOKEN) come from the environment, read by src/lib/hub.
  // File by file through the resumable downloader: a cut download of a multi-GB checkpoint resumes.
  const opts = {cacheDir: path.resolve(loaded.root, loaded.config.cache_dir)};
  const sha = await resolveRevision(name, revision, opts, ref);
  const files = (await listRepoFiles(name, sha, opts)).filter((f) => !only || only(f.path));
  const dir = await downloadRepoFiles(name, sha, files, {...opts, ...(o.progress ? {progress: o.progress} : {})});
  writeRef(opts.cacheDir, name, revision, sha);
  return {dir, revision: sha};
}
