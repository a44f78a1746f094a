/**
 * Downloads from the Hugging Face Hub into a local cache, over @huggingface/hub (the official
 * client: cache layout compatible with huggingface_hub's, LFS/xet aware). Shared by data prep
 * (hf://datasets/... inputs), fine-tuning (hf:OWNER/NAME bases) and push.
 *
 * URLs: hf://datasets/OWNER/NAME/PATH, hf://OWNER/NAME/PATH (a model repo), with an optional
 * revision after the name: hf://datasets/OWNER/NAME@REV/PATH. `hubUrl` points the client at
 * another endpoint (a mirror, or the stand-in server of the tests). Tokens are sent as a header
 * and never appear in errors or logs.
 */
import {inputError, LlmopsError} from '../errors.js';

export interface HubOptions {
  cacheDir: string;
  /** Defaults to HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  /** Defaults to HF_TOKEN. */
  token?: string;
  revision?: string;
}

export interface HfRef {
  type: 'dataset' | 'model' | 'space';
  name: string;
  revision: string;
  path: string;
}

export function isHfUrl(s: string): boolean {
  return s.startsWith('hf://');
}

export function parseHfUrl(url: string): HfRef {
  const m = /^hf:\/\/(?:(datasets|models|spaces)\/)?([^/@\s]+)\/([^/@\s]+)(?:@([^/\s]+))?(?:\/(.*))?$/.exec(url);
  if (!m) {
    throw inputError(`"${url}" is not a Hugging Face URL: expected hf://datasets/OWNER/NAME/PATH (or hf://OWNER/NAME/PATH for a model).`, {
      fix: 'Try this: hf://datasets/tatsu-lab/alpaca/data/train.jsonl',
    });
  }
  const kind = m[1] ?? 'models';
  return {type: kind.slice(0, -1) as HfRef['type'], name: `${m[2]}/${m[3]}`, revision: m[4] ?? 'main', path: m[5] ?? ''};
}

export function hubUrlOf(opts: HubOptions): string {
  return (opts.hubUrl ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function tokenOf(opts: HubOptions): string | undefined {
  const t = opts.token ?? process.env.HF_TOKEN;
  return t && t.trim() !== '' ? t.trim() : undefined;
}

/** The client prints "Downloading ..." with console.debug (stdout): keep stdout for results. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = () => {};
  try {
    return await fn();
  } finally {
    console.debug = debug;
  }
}

export function hubError(err: unknown, what: string, token: string | undefined): LlmopsError {
  const e = err as {statusCode?: number; message?: string};
  let msg = String(e.message ?? err);
  if (token) msg = msg.split(token).join('***');
  const status = e.statusCode;
  if (status === 401 || status === 403) {
    return inputError(`${what}: access denied by the Hub (HTTP ${status}).`, {
      fix: token ? 'Try this: check that HF_TOKEN has read access to this repository (gated datasets need accepting their terms).' : 'Try this: export HF_TOKEN=hf_... with read access, then rerun.',
      details: {status},
    });
  }
  if (status === 404 || /cannot get path info|invalid response for file/.test(msg)) {
    return inputError(`${what}: not found on the Hub${status ? ` (HTTP ${status})` : ''}.`, {fix: 'Try this: check the owner, name, revision and path on the repository\'s "Files" page.', details: {status: status ?? 404}});
  }
  return new LlmopsError('ENVIRONMENT', `${what}: download failed: ${msg}`, {
    fix: 'Try this: check the network (or HF_ENDPOINT for a mirror), or download the file and pass its local path.',
    cause: err,
  });
}

/** Downloads one file (once: later calls reuse the cached blob) and returns its local path. */
export async function downloadFile(hfUrl: string, opts: HubOptions): Promise<string> {
  const ref = parseHfUrl(hfUrl);
  if (ref.path === '') throw inputError(`${hfUrl}: names a repository, not a file.`, {fix: 'Try this: append the file path, e.g. hf://datasets/OWNER/NAME/data/train.jsonl'});
  const token = tokenOf(opts);
  const {downloadFileToCacheDir} = await import('@huggingface/hub');
  try {
    return await quietly(() =>
      downloadFileToCacheDir({
        repo: {type: ref.type, name: ref.name},
        path: ref.path,
        revision: opts.revision ?? ref.revision,
        cacheDir: opts.cacheDir,
        hubUrl: hubUrlOf(opts),
        ...(token ? {accessToken: token} : {}),
      }),
    );
  } catch (err) {
    throw hubError(err, hfUrl, token);
  }
}

export interface UploadResult {
  repo: string;
  url: string;
  files: number;
  bytes: number;
  commit: string | null;
}

/**
 * Uploads every file under `dir` to a model repository (created if missing) in one commit. Files are
 * read lazily (fs.openAsBlob), so a large ONNX file is streamed, not loaded whole.
 */
export async function uploadFolder(dir: string, repo: string, opts: Omit<HubOptions, 'cacheDir'> & {private?: boolean; message?: string}): Promise<UploadResult> {
  const token = tokenOf({...opts, cacheDir: ''});
  if (!token) {
    throw new LlmopsError('ENVIRONMENT', 'Uploading to the Hugging Face Hub needs a token with write access, and HF_TOKEN is not set.', {
      fix: 'Try this: export HF_TOKEN=hf_... (a token with write access, from https://huggingface.co/settings/tokens).',
    });
  }
  const {readdirSync, statSync, openAsBlob} = await import('node:fs');
  const pathMod = await import('node:path');
  const files: Array<{path: string; content: Blob}> = [];
  let bytes = 0;
  const walk = async (rel: string) => {
    for (const name of readdirSync(pathMod.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = pathMod.join(dir, r);
      if (statSync(abs).isDirectory()) await walk(r);
      else {
        files.push({path: r, content: await openAsBlob(abs)});
        bytes += statSync(abs).size;
      }
    }
  };
  await walk('');
  const hubUrl = hubUrlOf({...opts, cacheDir: ''});
  const {createRepo, uploadFiles} = await import('@huggingface/hub');
  try {
    try {
      await createRepo({repo: {type: 'model', name: repo}, accessToken: token, hubUrl, ...(opts.private === undefined ? {} : {private: opts.private})});
    } catch (err) {
      // An existing repository is fine: we add a commit to it.
      if ((err as {statusCode?: number}).statusCode !== 409) throw err;
    }
    const r = await quietly(() =>
      uploadFiles({repo: {type: 'model', name: repo}, accessToken: token, hubUrl, files, commitTitle: opts.message ?? `Upload ${files.length} files with llmops`}),
    );
    return {repo, url: `${hubUrl}/${repo}`, files: files.length, bytes, commit: r?.commit?.oid ?? null};
  } catch (err) {
    const status = (err as {statusCode?: number}).statusCode;
    if (status === 401 || status === 403) {
      throw inputError(`Upload to ${repo}: the Hub refused the token (HTTP ${status}).`, {
        fix: 'Try this: use a token with write access to that owner (HF_TOKEN).',
        details: {status},
      });
    }
    const msg = String((err as Error).message ?? err).split(token).join('***');
    throw new LlmopsError('ENVIRONMENT', `Upload to ${repo} failed${status ? ` (HTTP ${status})` : ''}: ${msg}`, {
      fix: 'Try this: check the network (or HF_ENDPOINT for a mirror) and rerun; the upload is one commit, so nothing half-done was published.',
    });
  }
}

/**
 * Points tags of a model repository at a revision (the Hub's tag API: DELETE then POST
 * /api/models/OWNER/NAME/tag/...), so an existing tag moves. Used to mirror registry versions and
 * aliases (v3, prod) onto the Hub.
 */
export async function setTags(repo: string, tags: string[], revision: string, opts: Omit<HubOptions, 'cacheDir'> & {message?: string} = {}): Promise<string[]> {
  const token = tokenOf({...opts, cacheDir: ''});
  const hubUrl = hubUrlOf({...opts, cacheDir: ''});
  const headers = {authorization: `Bearer ${token ?? ''}`, 'content-type': 'application/json'};
  const done: string[] = [];
  for (const tag of tags) {
    const del = await fetch(`${hubUrl}/api/models/${repo}/tag/${encodeURIComponent(tag)}`, {method: 'DELETE', headers});
    if (!del.ok && del.status !== 404) throw tagError(repo, tag, del.status, await del.text(), token);
    const res = await fetch(`${hubUrl}/api/models/${repo}/tag/${encodeURIComponent(revision)}`, {method: 'POST', headers, body: JSON.stringify({tag, message: opts.message ?? `llmops: ${tag}`})});
    if (!res.ok) throw tagError(repo, tag, res.status, await res.text(), token);
    done.push(tag);
  }
  return done;
}

function tagError(repo: string, tag: string, status: number, body: string, token: string | undefined): LlmopsError {
  const text = token ? body.split(token).join('***') : body;
  return new LlmopsError('ENVIRONMENT', `Tagging ${repo} with "${tag}" failed (HTTP ${status}): ${text.slice(0, 200)}`, {
    fix: 'Try this: check the token has write access to the repository; the upload itself succeeded.',
  });
}
