/**
 * A local stand-in for the Hugging Face Hub (the one part these tests cannot reach): serves a folder
 * as OWNER/NAME at one commit through the endpoints @huggingface/hub's snapshotDownload calls
 * (revision info, tree, paths-info, resolve), as test/runtime/hf-base.test.ts does for finetune.
 * Like the Hub, it honours `Range: bytes=N-` (206 with the tail). `cut` makes it drop the connection
 * once, after `at` bytes of one file, as a flaky network does; `token` makes the repo private.
 */
import {createHash} from 'node:crypto';
import {readdirSync, readFileSync, statSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';

function walk(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).sort().flatMap((name) => {
    const r = rel ? `${rel}/${name}` : name;
    return statSync(path.join(dir, r)).isDirectory() ? walk(dir, r) : [r];
  });
}

export interface StandInOptions {
  /** Drop the connection once, after `at` bytes of `path` (headers announce the full length). */
  cut?: {path: string; at: number};
  /** Require `Authorization: Bearer TOKEN` on every request (401 otherwise). */
  token?: string;
  /** Answer the download of `path` with a 302 to `to` (as the Hub sends LFS files to its CDN). */
  redirect?: {path: string; to: string};
}

export async function serveRepo(repo: string, dir: string, sha: string, opts: StandInOptions = {}): Promise<{url: string; requests: string[]; close: () => Promise<void>}> {
  const files = walk(dir);
  const requests: string[] = [];
  const entry = (p: string) => {
    const b = readFileSync(path.join(dir, p));
    const lfs = /\.(onnx|bin|safetensors)$/.test(p);
    return {type: 'file', path: p, size: b.length, oid: createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'),
      ...(lfs ? {lfs: {oid: createHash('sha256').update(b).digest('hex'), size: b.length, pointerSize: 134}} : {})};
  };
  const dirs = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.lastIndexOf('/'))))];
  const json = (res: http.ServerResponse, status: number, v: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {'content-type': 'application/json', ...headers});
    res.end(JSON.stringify(v));
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://stand-in');
    requests.push(`${req.method} ${u.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return json(res, 401, {error: 'Invalid credentials in Authorization header'});
    const m = /^\/(?:api\/models\/)?([^/]+\/[^/]+)\/(revision|tree|paths-info|resolve)\/([^/]+)\/?(.*)$/.exec(u.pathname);
    if (!m || m[1] !== repo) return json(res, 404, {error: 'Repository not found'}, {'x-error-code': 'RepositoryNotFound'});
    const [, , op, rev, rest] = m as unknown as [string, string, string, string, string];
    if (op === 'revision' && (rev === 'main' || rev === sha)) {
      return json(res, 200, {_id: 'x'.repeat(24), id: repo, sha, private: false, gated: false, downloads: 0, likes: 0, lastModified: '2026-11-01T00:00:00.000Z'});
    }
    if (rev !== sha) return json(res, 404, {error: `Invalid rev id: ${rev}`}, {'x-error-code': 'RevisionNotFound'});
    if (op === 'tree') return json(res, 200, [...dirs.map((d) => ({type: 'directory', path: d, oid: 'd'.repeat(40), size: 0})), ...files.map(entry)]);
    if (op === 'paths-info' && req.method === 'POST') {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const asked = (JSON.parse(raw) as {paths: string[]}).paths.filter((p) => files.includes(p));
        json(res, 200, asked.map((p) => ({...entry(p), lastCommit: {id: sha, title: 'Upload', date: '2026-11-01T00:00:00.000Z'}})));
      });
      return;
    }
    if (op === 'resolve' && opts.redirect?.path === rest) {
      res.writeHead(302, {location: opts.redirect.to});
      return res.end();
    }
    if (op === 'resolve' && files.includes(rest)) {
      const b = readFileSync(path.join(dir, rest));
      const e = entry(rest);
      const headers = {etag: `"${e.lfs?.oid ?? e.oid}"`, 'content-type': 'application/octet-stream'};
      const from = Number(/^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''))?.[1] ?? NaN);
      if (Number.isInteger(from)) {
        if (from >= b.length) {
          res.writeHead(416, {'content-range': `bytes */${b.length}`});
          return res.end();
        }
        const to = req.headers.range === 'bytes=0-0' ? 0 : b.length - 1;
        res.writeHead(206, {...headers, 'content-range': `bytes ${from}-${to}/${b.length}`, 'content-length': String(to - from + 1)});
        return res.end(b.subarray(from, to + 1));
      }
      res.writeHead(200, {...headers, 'content-length': String(b.length)});
      if (opts.cut && opts.cut.path === rest) {
        const at = opts.cut.at;
        opts.cut = undefined;
        // Half the file, flushed, then the connection drops.
        res.write(b.subarray(0, at), () => setTimeout(() => res.destroy(), 50));
        return;
      }
      return res.end(b);
    }
    return json(res, 404, {error: 'Entry not found'}, {'x-error-code': 'EntryNotFound'});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests,
    close: () => new Promise<void>((ok) => server.close(() => ok()))};
}
