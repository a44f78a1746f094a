/**
 * Chosen files of a model repository at an exact revision, into a cache laid out as
 * huggingface_hub lays it out (models--OWNER--NAME/{blobs,snapshots/SHA,refs/REV}), so Python tools
 * and transformers.js can share it. Only the files asked for are fetched (a repository may hold a
 * dozen ONNX variants of several GB each); each is checked against the Hub's listing: its size, and
 * for LFS files the sha256 the Hub names it by (the git blob sha1 for the others). Downloads resume
 * after an interruption (src/lib/hub/resumable.ts). Offline (HF_HUB_OFFLINE=1, or the Hub unreachable)
 * a revision already in the cache is used as it is.
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {inputError, LlmopsError} from '../errors.js';
import {hubError, hubUrlOf, tokenOf, type HubOptions} from './index.js';
import {downloadResumable} from './resumable.js';

export interface RepoFile {
  path: string;
  size: number;
  /** sha256 of the content, known for LFS files. */
  sha256?: string;
  /** git blob sha1 (what the cache names a non-LFS blob by). */
  oid?: string;
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

/** The commit a revision (branch, tag or sha) points at; errors name `label` (what the user typed). */
export async function resolveRevision(name: string, revision: string, opts: HubOptions, label = `hf:${name}@${revision}`): Promise<string> {
  const token = tokenOf(opts);
  const {modelInfo} = await import('@huggingface/hub');
  try {
    const info = await modelInfo({name, revision, hubUrl: hubUrlOf(opts), additionalFields: ['sha'], ...(token ? {accessToken: token} : {})});
    const sha = (info as {sha?: unknown}).sha;
    if (typeof sha !== 'string') throw new Error('the Hub did not say which commit the revision is');
    return sha;
  } catch (err) {
    throw hubError(err, label, token);
  }
}

export async function listRepoFiles(name: string, sha: string, opts: HubOptions): Promise<RepoFile[]> {
  const token = tokenOf(opts);
  const {listFiles} = await import('@huggingface/hub');
  const out: RepoFile[] = [];
  try {
    for await (const f of listFiles({repo: {type: 'model', name}, revision: sha, recursive: true, hubUrl: hubUrlOf(opts), ...(token ? {accessToken: token} : {})})) {
      if (f.type !== 'file') continue;
      out.push({path: f.path, size: f.lfs?.size ?? f.size, ...(f.lfs?.oid ? {sha256: f.lfs.oid} : {}), ...(f.oid ? {oid: f.oid} : {})});
    }
  } catch (err) {
    throw hubError(err, `hf:${name}@${sha}`, token);
  }
  return out;
}

/** The Hub's URL of one file at a commit (each path segment encoded). */
function resolveUrl(hubUrl: string, name: string, sha: string, file: string): string {
  return `${hubUrl}/${name}/resolve/${sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** snapshots/SHA/PATH points at blobs/ID (relative symlink, as huggingface_hub does; a copy where links fail). */
function linkBlob(blob: string, pointer: string): void {
  mkdirSync(path.dirname(pointer), {recursive: true});
  rmSync(pointer, {force: true});
  try {
    symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer);
  }
}

/**
 * Downloads `files` of `name` at commit `sha` and returns the snapshot folder. A file already in
 * the snapshot at its listed size is reused (blobs only get there verified); an interrupted
 * download resumes from its `.incomplete` part on the next call.
 */
export async function downloadRepoFiles(
  name: string,
  sha: string,
  files: RepoFile[],
  opts: HubOptions & {progress?: (msg: string) => void},
): Promise<string> {
  const token = tokenOf(opts);
  const folder = repoFolder(opts.cacheDir, name);
  const snapshot = path.join(folder, 'snapshots', sha);
  mkdirSync(path.join(folder, 'blobs'), {recursive: true});
  for (const f of files) {
    const pointer = path.join(snapshot, f.path);
    if (existsSync(pointer) && statSync(pointer).size === f.size) continue;
    const id = f.sha256 ?? f.oid;
    if (!id || !/^[0-9a-f]{40,64}$/.test(id)) {
      throw new LlmopsError('ENVIRONMENT', `hf:${name}@${sha}/${f.path}: the Hub's listing gives no hash for this file, so it cannot be verified.`, {fix: 'Try this: check HF_ENDPOINT points at a Hugging Face Hub (or a faithful mirror).'});
    }
    const blob = path.join(folder, 'blobs', id);
    if (!(existsSync(blob) && statSync(blob).size === f.size)) {
      opts.progress?.(`Downloading ${name}/${f.path} (${(f.size / 1e6).toFixed(1)} MB)`);
      await downloadResumable({url: resolveUrl(hubUrlOf(opts), name, sha, f.path), token, blob, what: `hf:${name}@${sha}/${f.path}`,
        expected: {size: f.size, ...(f.sha256 ? {sha256: f.sha256} : f.oid ? {gitOid: f.oid} : {})}, ...(opts.progress ? {progress: opts.progress} : {})});
    }
    linkBlob(blob, pointer);
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
