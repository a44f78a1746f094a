/**
 * One file of a Hub repository into a blob of the cache, resumably, as huggingface_hub does it:
 * bytes go to `<blob>.incomplete`; a cut transfer is resumed at once (a few times, with a short
 * back-off), and a later command resumes what is left, asking for the rest (`Range: bytes=N-`) and
 * appending; only a file whose size and hash match the Hub's listing is renamed to its blob name.
 * A partial that turns out wrong (altered on disk, or a server that changed the file) is deleted,
 * so the next attempt starts clean. The token goes in a header to the Hub's own origin only
 * (a redirect to a CDN gets no token, as with huggingface_hub) and never into a message.
 */
import {createHash} from 'node:crypto';
import {createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync} from 'node:fs';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import type {ReadableStream as WebReadableStream} from 'node:stream/web';
import {LlmopsError} from '../errors.js';
import {hubError} from './index.js';

export interface Expected {
  size: number;
  /** sha256 of the content (LFS files). */
  sha256?: string;
  /** git blob sha1 (files kept in git). */
  gitOid?: string;
}

export interface ResumableDownload {
  url: string;
  token: string | undefined;
  /** Final path of the blob; the partial is `${blob}.incomplete`. */
  blob: string;
  expected: Expected;
  /** What errors name, e.g. hf:OWNER/NAME@SHA/onnx/model.onnx. */
  what: string;
  progress?: (msg: string) => void;
}

const MAX_REDIRECTS = 5;
/** Tries per file within one command, as huggingface_hub retries a cut transfer before giving up. */
const MAX_ATTEMPTS = 5;
const backoffMs = (attempt: number) => 250 * 2 ** (attempt - 1);

/** A transfer that stopped part-way (the connection dropped): worth resuming at once. */
class CutError extends LlmopsError {}

/** GET with redirects followed by hand, so the token never leaves the Hub's origin. */
async function get(url: string, token: string | undefined, range: number): Promise<Response> {
  const origin = new URL(url).origin;
  let at = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = {};
    if (token && new URL(at).origin === origin) headers.authorization = `Bearer ${token}`;
    if (range > 0) headers.range = `bytes=${range}-`;
    const res = await fetch(at, {headers, redirect: 'manual'});
    const next = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && next) {
      await res.body?.cancel();
      at = new URL(next, at).toString();
      continue;
    }
    return res;
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects`);
}

async function digest(file: string, algo: 'sha256' | 'sha1', prefix?: string): Promise<string> {
  const h = createHash(algo);
  if (prefix) h.update(prefix);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** What is wrong with the finished partial, or null when it is the file the Hub listed. */
async function mismatch(file: string, want: Expected): Promise<string | null> {
  const size = statSync(file).size;
  if (size !== want.size) return `${size} bytes, expected ${want.size}`;
  if (want.sha256) {
    const got = await digest(file, 'sha256');
    return got === want.sha256 ? null : `sha256 ${got.slice(0, 12)}..., expected ${want.sha256.slice(0, 12)}...`;
  }
  if (want.gitOid) {
    const got = await digest(file, 'sha1', `blob ${size}\0`);
    return got === want.gitOid ? null : `git oid ${got.slice(0, 12)}..., expected ${want.gitOid.slice(0, 12)}...`;
  }
  return null;
}

/** Fetches the missing tail of the partial (all of it when there is none); returns the bytes on disk. */
async function fetchRest(d: ResumableDownload, partial: string, have: number): Promise<void> {
  let res: Response;
  try {
    res = await get(d.url, d.token, have);
  } catch (err) {
    throw hubError(err, d.what, d.token);
  }
  if (res.status === 416 && have > 0) {
    // The partial is already as long as the file (or longer): the hash check decides.
    await res.body?.cancel();
    return;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw hubError(Object.assign(new Error(`HTTP ${res.status}`), {statusCode: res.status}), d.what, d.token);
  }
  let append = false;
  if (have > 0 && res.status === 206) {
    append = (res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
    if (!append) {
      await res.body.cancel();
      throw new LlmopsError('ENVIRONMENT', `${d.what}: the Hub answered the resume request with another byte range (${res.headers.get('content-range') ?? 'none'}).`, {
        fix: `Try this: delete ${partial} and rerun.`,
      });
    }
  }
  // A 200 to a range request: the server sends the whole file, so the partial is replaced.
  if (have > 0) d.progress?.(append ? `Resuming ${d.what} at byte ${have} of ${d.expected.size}` : `${d.what}: the server does not resume; downloading it whole`);
  try {
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), createWriteStream(partial, {flags: append ? 'a' : 'w'}));
  } catch (err) {
    const got = existsSync(partial) ? statSync(partial).size : 0;
    throw new CutError('ENVIRONMENT', `${d.what}: the download was cut after ${got} of ${d.expected.size} bytes (${(err as Error).message.split(d.token ?? '\0').join('***')}); the part is kept in ${partial} and the next attempt resumes from there.`, {
      fix: 'Try this: rerun the same command (it resumes); check the network or HF_ENDPOINT if it keeps failing.',
    });
  }
}

/** Fetches until the partial is whole: a cut transfer is resumed up to MAX_ATTEMPTS times. */
async function fetchWhole(d: ResumableDownload, partial: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let have = existsSync(partial) ? statSync(partial).size : 0;
    if (have > d.expected.size) {
      rmSync(partial, {force: true});
      have = 0;
    }
    if (have >= d.expected.size) return;
    try {
      return await fetchRest(d, partial, have);
    } catch (err) {
      if (!(err instanceof CutError) || attempt >= MAX_ATTEMPTS) throw err;
      d.progress?.(`${err.message.split(';')[0]}; trying again (${attempt + 1} of ${MAX_ATTEMPTS})`);
      await new Promise((r) => setTimeout(r, backoffMs(attempt)));
    }
  }
}

/** Downloads (or finishes) one blob; throws a user-readable error and deletes a partial that does not verify. */
export async function downloadResumable(d: ResumableDownload): Promise<void> {
  const partial = `${d.blob}.incomplete`;
  await fetchWhole(d, partial);
  const wrong = existsSync(partial) ? await mismatch(partial, d.expected) : 'nothing was written';
  if (wrong) {
    rmSync(partial, {force: true});
    throw new LlmopsError('ENVIRONMENT', `${d.what}: the downloaded file does not match the Hub's listing (${wrong}); the partial download was deleted.`, {
      fix: 'Try this: rerun to download it afresh (the file was cut, altered on disk, or changed on the server).',
    });
  }
  renameSync(partial, d.blob);
}
