/**
 * A local stand-in for the Hugging Face Hub (the one part these tests cannot reach): serves a folder
 * as OWNER/NAME at one commit through the endpoints @huggingface/hub's snapshotDownload calls
 * (revision info, tree, paths-info, resolve):
 *   GET  /api/models/NAME/revision/REV   (model info: the commit sha)
 *   GET  /api/models/NAME/tree/SHA       (the file list)
 *   POST /api/models/NAME/paths-info/SHA (per file: oid / lfs oid, the cache's blob name)
 *   GET  /NAME/resolve/SHA/PATH          (a bytes=0-0 probe, then the file or its tail)
 * Like the Hub, it honours `Range: bytes=N-` (206 with the tail). `cut` makes it drop the connection
 * after `at` bytes of one file (once, or `times` times), as a flaky network does; `token` makes the repo private.
 */
import {createHash} from 'node:crypto';
import {readdirSync, readFileSync, statSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';

/** Every file under dir, as repo paths ('onnx/model.onnx'), sorted. */
export function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).sort().flatMap((name) => {
    const r = rel ? `${rel}/${name}` : name;
    return statSync(path.join(dir, r)).isDirectory() ? walk(dir, r) : [r];
  });
}

export interface StandInOptions {
  /** Drop the connection after `at` bytes of a response for `path` (headers announce the full
   * length), `times` times (default once), whole file or Range alike. */
  cut?: {path: string; at: number; times?: number};
  /** Require `Authorization: Bearer TOKEN` on every request (401 otherwise). */
  token?: string;
  /** Answer the download of `path` with a 302 to `to` (as the Hub sends LFS files to its CDN). */
  redirect?: {path: string; to: string};
  /** Revision names (tags, branches besides main) and the commit each points at. */
  revisions?: Record<string, string>;
  /** A second commit of the same files whose listing says `path` is one byte longer than it is. */
  misreport?: {sha: string; path: string};
}

/** One request as the stand-in saw it: `full` is a GET without a Range (a whole-file download). */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | null;
  auth: string;
  full: boolean;
}

export interface StandIn {
  url: string;
  /** "METHOD /path[ RANGE]" per request, in order. */
  requests: string[];
  /** The same requests with their headers of interest. */
  seen: SeenRequest[];
  close: () => Promise<void>;
}

export async function serveRepo(repo: string, dir: string, sha: string, opts: StandInOptions = {}): Promise<StandIn> {
  const files = walk(dir);
  const requests: string[] = [];
  const seen: SeenRequest[] = [];
  const commits = new Set([sha, ...(opts.misreport ? [opts.misreport.sha] : [])]);
  const commitOf = (rev: string) => (rev === 'main' ? sha : commits.has(rev) ? rev : opts.revisions?.[rev]);
  const entry = (p: string, rev = sha) => {
    const b = readFileSync(path.join(dir, p));
    const lfs = /\.(onnx|onnx_data|bin|pt|safetensors)$/.test(p);
    const size = opts.misreport?.sha === rev && opts.misreport.path === p ? b.length + 1 : b.length;
    return {type: 'file', path: p, size, oid: createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'),
      ...(lfs ? {lfs: {oid: createHash('sha256').update(b).digest('hex'), size, pointerSize: 134}} : {})};
  };
  const dirs = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.lastIndexOf('/'))))];
  const json = (res: http.ServerResponse, status: number, v: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {'content-type': 'application/json', ...headers});
    res.end(JSON.stringify(v));
  };
  let cuts = opts.cut?.times ?? 1;
  /** The body, or (while cuts are left for this file) its first `at` bytes and then a dropped connection. */
  const send = (res: http.ServerResponse, file: string, body: Buffer) => {
    if (!opts.cut || opts.cut.path !== file || cuts <= 0 || body.length <= opts.cut.at) return res.end(body);
    cuts -= 1;
    res.write(body.subarray(0, opts.cut.at), () => setTimeout(() => res.destroy(), 50));
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://stand-in');
    requests.push(`${req.method} ${u.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    seen.push({method: req.method ?? '', path: u.pathname, range: req.headers.range ?? null, auth: String(req.headers.authorization ?? ''), full: req.method === 'GET' && !req.headers.range});
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return json(res, 401, {error: 'Invalid credentials in Authorization header'});
    const m = /^\/(?:api\/models\/)?([^/]+\/[^/]+)\/(revision|tree|paths-info|resolve)\/([^/]+)\/?(.*)$/.exec(u.pathname);
    if (!m || m[1] !== repo) return json(res, 404, {error: 'Repository not found'}, {'x-error-code': 'RepositoryNotFound'});
    const [, , op, rev, rest] = m as unknown as [string, string, string, string, string];
    if (op === 'revision' && commitOf(rev)) {
      return json(res, 200, {_id: 'x'.repeat(24), id: repo, sha: commitOf(rev), private: Boolean(opts.token), gated: false, downloads: 0, likes: 0, lastModified: '2026-11-01T00:00:00.000Z'});
    }
    // Like the Hub, a branch or tag name works wherever a commit does (transformers.js asks for main).
    const commit = commitOf(rev);
    if (!commit) return json(res, 404, {error: `Invalid rev id: ${rev}`}, {'x-error-code': 'RevisionNotFound'});
    if (op === 'tree') return json(res, 200, [...dirs.map((d) => ({type: 'directory', path: d, oid: 'd'.repeat(40), size: 0})), ...files.map((p) => entry(p, commit))]);
    if (op === 'paths-info' && req.method === 'POST') {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const asked = (JSON.parse(raw) as {paths: string[]}).paths.filter((p) => files.includes(p));
        json(res, 200, asked.map((p) => ({...entry(p, commit), lastCommit: {id: commit, title: 'Upload', date: '2026-11-01T00:00:00.000Z'}})));
      });
      return;
    }
    if (op === 'resolve' && opts.redirect?.path === rest) {
      res.writeHead(302, {location: opts.redirect.to});
      return res.end();
    }
    if (op === 'resolve' && files.includes(rest)) {
      const b = readFileSync(path.join(dir, rest));
      const e = entry(rest, commit);
      const headers = {etag: `"${e.lfs?.oid ?? e.oid}"`, 'content-type': 'application/octet-stream'};
      const from = Number(/^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''))?.[1] ?? NaN);
      if (Number.isInteger(from)) {
        if (from >= b.length) {
          res.writeHead(416, {'content-range': `bytes */${b.length}`});
          return res.end();
        }
        const to = req.headers.range === 'bytes=0-0' ? 0 : b.length - 1;
        res.writeHead(206, {...headers, 'content-range': `bytes ${from}-${to}/${b.length}`, 'content-length': String(to - from + 1)});
        return send(res, rest, b.subarray(from, to + 1));
      }
      res.writeHead(200, {...headers, 'content-length': String(b.length)});
      return send(res, rest, b);
    }
    return json(res, 404, {error: 'Entry not found'}, {'x-error-code': 'EntryNotFound'});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, seen,
    close: () => new Promise<void>((ok) => server.close(() => ok()))};
}
