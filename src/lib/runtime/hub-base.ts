/**
 * `--base hf:OWNER/NAME`: the model is downloaded through src/lib/hub (@huggingface/hub) into the
 * project's cache, and the local directory becomes the base. The trainer never downloads.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LlmopsError, usageError} from '../errors.js';

export async function fetchHubBase(ref: string, loaded: LoadedConfig): Promise<string> {
  const repo = ref.slice('hf:'.length);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw usageError(`--base ${ref}: expected hf:OWNER/NAME`, {fix: 'Try this: --base hf:OWNER/NAME'});
  }
  const specifier: string = '../hub/index.js';
  let hub: {downloadRepo?: (repo: string, opts: Record<string, unknown>) => Promise<string | {dir: string}>};
  try {
    hub = (await import(specifier)) as typeof hub;
  } catch (error) {
    throw new LlmopsError('ENVIRONMENT', `The Hugging Face download helper is not available: ${(error as Error).message}`, {
      fix: 'Try this: download the model yourself and pass --base DIR.',
    });
  }
  if (!hub.downloadRepo) throw new LlmopsError('BUG', 'src/lib/hub has no downloadRepo.');
  const r = await hub.downloadRepo(repo, {
    cacheDir: path.resolve(loaded.root, loaded.config.cache_dir),
    hubUrl: process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
  });
  return typeof r === 'string' ? r : r.dir;
}
