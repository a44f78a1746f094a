/**
 * Chosen files of a model repository at an exact revision, into a cache laid out as
 * huggingface_hub lays it out (models--OWNER--NAME/{blobs,snapshots/SHA,refs/REV}), so Python tools
 * and transformers.js can share it. Only the files asked for are fetched (a repository may hold a
 * dozen ONNX variants of several GB each); each is checked against the Hub's listing: its size, and
 * for LFS files the sha256 the Hub names it by. Offline (HF_HUB_OFFLINE=1, or the Hub unreachable)
 * a revision already in the cache is used as it is.
 */
import {createHash} from 'node:crypto';
import {createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {inputError, LlmopsError} from '../errors.js';
import {hubError, hubUrlOf, quietly, tokenOf, type HubOptions} from './index.js';

export interface RepoFile {
  path: string;
  size: number;
  /** sha256 of the content, known for LFS files. */
  sha256?: string;
}

/** The hub cache: HF_HUB_CACHE, else HF_HOME/hub, else the project's cache folder. */
export function hubCacheDir(projectCache: string): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return path.join(process.env.HF_HOME.replace(/^~(?=$|\/)/, os.homedir()), 'hub');
  return projectCache;
}

export const isOffline = (): boolean => ['1', 'true', 'yes', 'on'].includes(String(process.env.HF_HUB_OFFLINE ?? '').toLowerCase());

const repoFolder = (cacheDir: string, name: string) => path.join(cacheDir, `models--${name.replace('/', '--')}`);
const isSha = (rev: string) => /^[0-9a-f]{40}$/.test(rev);

/** The commit a revision (branch, tag or sha) points at. */
export async function resolveRevision(name: string, revision: string, opts: HubOptions): Promise<string> {
  const token = tokenOf(opts);
  const {modelInfo} = await import('@huggingface/hub');
  try {
    const info = await modelInfo({name, revision, hubUrl: hubUrlOf(opts), additionalFields: ['sha'], ...(token ? {accessToken: token} : {})});
    const sha = (info as {sha?: unknown}).sha;
    if (typeof sha !== 'string') throw new Error('the Hub did not say which commit the revision is');
    return sha;
  } catch (err) {
    throw hubError(err, `hf:${name}@${revision}`, token);
  }
}

export async function listRepoFiles(name: string, sha: string, opts: HubOptions): Promise<RepoFile[]> {
  const token = tokenOf(opts);
  const {listFiles} = await import('@huggingface/hub');
  const out: RepoFile[] = [];
  try {
    for await (const f of listFiles({repo: {type: 'model', name}, revision: sha, recursive: true, hubUrl: hubUrlOf(opts), ...(token ? {accessToken: token} : {})})) {
      if (f.type !== 'file') continue;
      out.push({path: f.path, size: f.lfs?.size ?? f.size, ...(f.lfs?.oid ? {sha256: f.lfs.oid} : {})});
    }
  } catch (err) {
    throw hubError(err, `hf:${name}@${sha}`, token);
  }
  return out;
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Downloads `files` of `name` at commit `sha` (cached blobs are reused) and returns the snapshot folder. */
export async function downloadRepoFiles(
  name: string,
  sha: string,
  files: RepoFile[],
  opts: HubOptions & {progress?: (msg: string) => void},
): Promise<string> {
  const token = tokenOf(opts);
  const {downloadFileToCacheDir} = await import('@huggingface/hub');
  const snapshot = path.join(repoFolder(opts.cacheDir, name), 'snapshots', sha);
  for (const f of files) {
    const local = path.join(snapshot, f.path);
    if (!(existsSync(local) && statSync(local).size === f.size)) {
      opts.progress?.(`Downloading ${name}/${f.path} (${(f.size / 1e6).toFixed(1)} MB)`);
      try {
        await quietly(() => downloadFileToCacheDir({repo: {type: 'model', name}, path: f.path, revision: sha, cacheDir: opts.cacheDir, hubUrl: hubUrlOf(opts), ...(token ? {accessToken: token} : {})}));
      } catch (err) {
        throw hubError(err, `hf:${name}@${sha}/${f.path}`, token);
      }
    }
    const size = statSync(local).size;
    if (size !== f.size || (f.sha256 && (await sha256Of(local)) !== f.sha256)) {
      throw new LlmopsError('ENVIRONMENT', `hf:${name}@${sha}/${f.path}: the downloaded file does not match the Hub's listing (${size} bytes, expected ${f.size}${f.sha256 ? ` and sha256 ${f.sha256.slice(0, 12)}...` : ''}).`, {
        fix: `Try this: delete ${path.join(repoFolder(opts.cacheDir, name), 'blobs')} entries of this file and rerun (the download was cut or altered).`,
      });
    }
  }
  return snapshot;
}

/** Records which commit a branch or tag pointed at, as huggingface_hub does (refs/REV). */
export function writeRef(cacheDir: string, name: string, revision: string, sha: string): void {
  if (isSha(revision)) return;
  const refs = path.join(repoFolder(cacheDir, name), 'refs');
  mkdirSync(path.dirname(path.join(refs, revision)), {recursive: true});
  writeFileSync(path.join(refs, revision), sha);
}

/** The cached snapshot of a revision, or null when the cache has never seen it. */
export function cachedSnapshot(cacheDir: string, name: string, revision: string): {dir: string; sha: string} | null {
  const folder = repoFolder(cacheDir, name);
  let sha = revision;
  if (!isSha(revision)) {
    const ref = path.join(folder, 'refs', revision);
    if (!existsSync(ref)) return null;
    sha = readFileSync(ref, 'utf8').trim();
  }
  const dir = path.join(folder, 'snapshots', sha);
  return existsSync(dir) ? {dir, sha} : null;
}

export function parseHfModelRef(ref: string): {name: string; revision: string} {
  const m = /^hf:([\w.-]+\/[\w.-]+)(?:@([^\s@]+))?$/.exec(ref);
  if (!m) throw inputError(`"${ref}" is not a Hugging Face model reference: expected hf:OWNER/NAME or hf:OWNER/NAME@REVISION.`, {fix: 'Try this: hf:HuggingFaceTB/SmolLM2-135M-Instruct'});
  return {name: m[1]!, revision: m[2] ?? 'main'};
}
