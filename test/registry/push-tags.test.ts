/**
 * `llmops push NAME@ALIAS` mirrors the registry onto Hub tags, against a local stand-in for the
 * Hugging Face Hub (the real Hub is a boundary tests cannot reach): create-repo, preupload, the
 * NDJSON commit, and the tag API (DELETE /tag/TAG, POST /tag/REVISION {tag}).
 */
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {writeFileSync} from 'node:fs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from '../serve/helpers/model.js';

const tags = new Map<string, string>(); // "repo:tag" -> revision
let commits = 0;
let hub: http.Server;
let hubUrl: string;

beforeAll(async () => {
  hub = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = (status: number, obj: unknown) => {
        res.writeHead(status, {'content-type': 'application/json'});
        res.end(JSON.stringify(obj));
      };
      if (req.headers.authorization !== 'Bearer hf_test_write_token') return json(401, {error: 'Invalid credentials'});
      const url = req.url ?? '';
      if (url === '/api/repos/create') return json(200, {url: 'x'});
      let m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/main$/.exec(url);
      if (m) return json(200, {files: JSON.parse(body).files.map((f: {path: string}) => ({path: f.path, uploadMode: 'regular'}))});
      m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/main$/.exec(url);
      if (m) {
        commits++;
        const oid = `c0ffee${String(commits).padStart(34, '0')}`;
        return json(200, {commitOid: oid, commitUrl: `${hubUrl}/${m[1]}/commit/${oid}`});
      }
      m = /^\/api\/models\/([^/]+\/[^/]+)\/tag\/([^/]+)$/.exec(url);
      if (m && req.method === 'DELETE') {
        const key = `${m[1]}:${decodeURIComponent(m[2]!)}`;
        if (!tags.has(key)) return json(404, {error: 'no such tag'});
        tags.delete(key);
        return json(200, {});
      }
      if (m && req.method === 'POST') {
        const {tag} = JSON.parse(body) as {tag: string};
        const key = `${m[1]}:${tag}`;
        if (tags.has(key)) return json(409, {error: 'Tag already exists'});
        tags.set(key, decodeURIComponent(m[2]!));
        return json(200, {});
      }
      json(404, {error: `no route ${req.method} ${url}`});
    });
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});
afterAll(() => hub?.close());

describe('llmops push NAME@ALIAS (stand-in Hub server)', () => {
  it('tags the commit with the version and the aliases holding it, and moves a tag when the alias moves', {timeout: 300_000}, async () => {
    const model = await tinyModel();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: tags\n');
    const env = {LLMOPS_DB: path.join(dir, 'l.db'), HF_ENDPOINT: hubUrl, HF_TOKEN: 'hf_test_write_token'};
    const l = Ledger.open(env.LLMOPS_DB);
    l.insertRun({id: model.runId, kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: model.runDir, spec: {}});
    l.close();
    const cli = (...a: string[]) => runCli([...a, '--json'], {cwd: dir, env});
    expect((await cli('models', 'register', 'chat', model.modelDir)).code).toBe(0); // v1: the folder
    expect((await cli('models', 'alias', 'chat@prod', model.runId)).json).toMatchObject({to: 'v2'}); // v2: the run
    let r = await cli('push', 'chat@prod', '--repo', 'me/chat');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.tags).toEqual(['v2', 'prod']);
    const first = r.json.commit;
    expect(tags.get('me/chat:prod')).toBe(first);
    expect(tags.get('me/chat:v2')).toBe(first);

    // prod moves to v1; pushing it moves the Hub's prod tag to the new commit.
    await cli('models', 'alias', 'chat@prod', 'v1');
    r = await cli('push', 'chat@prod', '--repo', 'me/chat');
    expect(r.json.tags).toEqual(['v1', 'prod']);
    expect(r.json.commit).not.toBe(first);
    expect(tags.get('me/chat:prod')).toBe(r.json.commit);
    expect(tags.get('me/chat:v2')).toBe(first);
    expect(r.stdout + r.stderr).not.toContain('hf_test_write_token');
  });
});
