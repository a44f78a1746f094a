import {createHash} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {downloadFile, parseHfUrl} from '../../src/lib/hub/index.js';
import {runCli, tempDir} from '../helpers/cli.js';

const BODY = [
  JSON.stringify({instruction: 'Say hello.', input: '', output: 'Hello there, friend.'}),
  JSON.stringify({text: 'A downloaded document about the quiet winter harbor.'}),
].join('\n') + '\n';
const OID = createHash('sha1').update(BODY).digest('hex');
const TOKEN = 'hf_' + 'S3cretStandInToken0123456789abcd';

let server: http.Server;
let url = '';
const seen = {fullDownloads: 0, authHeaders: new Set<string>()};

beforeAll(async () => {
  // Stands in for huggingface.co: the two endpoints downloadFileToCacheDir uses.
  server = http.createServer((req, res) => {
    seen.authHeaders.add(String(req.headers.authorization ?? ''));
    if (req.method === 'POST' && req.url === '/api/datasets/acme/tiny/paths-info/main') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        // Like the Hub: unknown paths are simply absent from the answer.
        const paths = (JSON.parse(body) as {paths: string[]}).paths.filter((p) => p === 'data/train.jsonl');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(paths.map((p) => ({path: p, type: 'file', oid: OID, size: BODY.length, lastCommit: {id: 'c'.repeat(40), date: '2026-11-01T00:00:00Z', title: 'add'}}))));
      });
      return;
    }
    if (req.method === 'GET' && req.url === '/datasets/acme/tiny/resolve/main/data/train.jsonl') {
      res.setHeader('etag', `"${OID}"`);
      if (req.headers.range === 'bytes=0-0') {
        res.writeHead(206, {'content-range': `bytes 0-0/${BODY.length}`});
        res.end(BODY.slice(0, 1));
        return;
      }
      seen.fullDownloads++;
      res.end(BODY);
      return;
    }
    res.writeHead(404, {'x-error-code': 'EntryNotFound', 'content-type': 'application/json'});
    res.end(JSON.stringify({error: 'Entry not found'}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Hugging Face downloads (Hub mocked by a local stand-in server)', () => {
  it('parses hf:// URLs for datasets, models and revisions', () => {
    expect(parseHfUrl('hf://datasets/acme/tiny/data/train.jsonl')).toEqual({type: 'dataset', name: 'acme/tiny', revision: 'main', path: 'data/train.jsonl'});
    expect(parseHfUrl('hf://acme/model@v2/config.json')).toEqual({type: 'model', name: 'acme/model', revision: 'v2', path: 'config.json'});
    expect(() => parseHfUrl('hf://nope')).toThrow(/hf:\/\/datasets\/OWNER\/NAME\/PATH/);
  });

  it('downloads a file once into the cache, sending HF_TOKEN as a header (Hub mocked by a local stand-in server)', async () => {
    const cache = tempDir('llmops-hub-');
    const before = seen.fullDownloads;
    const p1 = await downloadFile('hf://datasets/acme/tiny/data/train.jsonl', {cacheDir: cache, hubUrl: url, token: TOKEN});
    const p2 = await downloadFile('hf://datasets/acme/tiny/data/train.jsonl', {cacheDir: cache, hubUrl: url, token: TOKEN});
    expect(readFileSync(p1, 'utf8')).toBe(BODY);
    expect(p2).toBe(p1);
    expect(p1.startsWith(cache)).toBe(true);
    expect(seen.fullDownloads - before).toBe(1);
    expect(seen.authHeaders.has(`Bearer ${TOKEN}`)).toBe(true);
    await expect(downloadFile('hf://datasets/acme/tiny/missing.jsonl', {cacheDir: cache, hubUrl: url, token: TOKEN})).rejects.toMatchObject({code: 'INPUT'});
  });

  it('llmops data prep reads hf://datasets inputs and keeps the token out of every output (Hub mocked by a local stand-in server)', async () => {
    const dir = tempDir('llmops-hubprep-');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'ledger: {path: ledger.db}\ndata:\n  split: {train: 1, val: 0, test: 0}\n');
    const env = {HF_ENDPOINT: url, HF_TOKEN: TOKEN};
    const r = await runCli(['data', 'prep', '--json', '--input', 'hf://datasets/acme/tiny/data/train.jsonl'], {cwd: dir, env});
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.records.written.train).toBe(2);
    expect(r.json.kind).toBe('mixed');
    const manifest = readFileSync(path.join(dir, 'data/prepared/manifest.json'), 'utf8');
    expect(JSON.parse(manifest).inputs[0]).toMatchObject({name: 'hf://datasets/acme/tiny/data/train.jsonl', sha256: createHash('sha256').update(BODY).digest('hex')});
    for (const text of [r.stdout, r.stderr, manifest, readFileSync(path.join(dir, 'ledger.db')).toString('latin1')]) expect(text).not.toContain(TOKEN);
    const missing = await runCli(['data', 'prep', '--json', '--input', 'hf://datasets/acme/tiny/nope.jsonl'], {cwd: dir, env});
    expect(missing.code).toBe(4);
    expect(missing.stdout).not.toContain(TOKEN);
  });
});
