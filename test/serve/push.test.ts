/**
 * `llmops push` against a local stand-in for the Hugging Face Hub (the real Hub is a boundary we
 * cannot reach from tests): it speaks the Hub's create-repo, preupload and NDJSON commit API, and
 * answers every file as a "regular" (non-LFS) upload.
 */
import http from 'node:http';
import {readFileSync, readdirSync, statSync} from 'node:fs';
import path from 'node:path';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

interface Seen {
  auth: string[];
  created: string[];
  commits: Array<{repo: string; files: Record<string, Buffer>; summary: string}>;
}
const seen: Seen = {auth: [], created: [], commits: []};
let hub: http.Server;
let hubUrl: string;
let model: {modelDir: string; runDir: string; runId: string};

beforeAll(async () => {
  model = await tinyModel();
  hub = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.auth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== 'Bearer hf_test_write_token') {
        res.writeHead(401, {'content-type': 'application/json'});
        return res.end(JSON.stringify({error: 'Invalid credentials'}));
      }
      const json = (status: number, obj: unknown) => {
        res.writeHead(status, {'content-type': 'application/json'});
        res.end(JSON.stringify(obj));
      };
      if (req.url === '/api/repos/create') {
        const b = JSON.parse(body);
        const name = `${b.organization}/${b.name}`;
        if (seen.created.includes(name)) return json(409, {error: 'You already created this model repo'});
        seen.created.push(name);
        return json(200, {url: `${hubUrl}/${name}`});
      }
      let m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/main$/.exec(req.url ?? '');
      if (m) return json(200, {files: JSON.parse(body).files.map((f: {path: string}) => ({path: f.path, uploadMode: 'regular'}))});
      m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/main$/.exec(req.url ?? '');
      if (m) {
        const lines = body.split('\n').map((l) => JSON.parse(l));
        const files: Record<string, Buffer> = {};
        for (const l of lines.filter((x) => x.key === 'file')) files[l.value.path] = Buffer.from(l.value.content, 'base64');
        seen.commits.push({repo: m[1]!, files, summary: lines[0].value.summary});
        return json(200, {commitOid: 'abc123def4567890', commitUrl: `${hubUrl}/${m[1]}/commit/abc123def4567890`});
      }
      json(404, {error: `no route ${req.url}`});
    });
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});
afterAll(() => hub?.close());

function filesOf(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    return statSync(path.join(dir, r)).isDirectory() ? filesOf(dir, r) : [r];
  });
}

describe('llmops push (stand-in Hub server)', () => {
  it("uploads the run's model folder byte for byte in one commit and records where it went", async () => {
    const dir = tempDir();
    const env = {LLMOPS_DB: path.join(dir, 'l.db'), HF_ENDPOINT: hubUrl, HF_TOKEN: 'hf_test_write_token'};
    const ledger = Ledger.open(env.LLMOPS_DB);
    ledger.insertRun({id: model.runId, kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: model.runDir, spec: {}});
    ledger.close();
    const r = await runCli(['push', model.runId, '--repo', 'me/tiny-chat', '--json'], {cwd: dir, env});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({runId: model.runId, repo: 'me/tiny-chat', url: `${hubUrl}/me/tiny-chat`, commit: 'abc123def4567890'});
    const commit = seen.commits.at(-1)!;
    expect(commit.repo).toBe('me/tiny-chat');
    const local = filesOf(model.modelDir).sort();
    expect(Object.keys(commit.files).sort()).toEqual(local);
    expect(local).toContain('onnx/model.onnx');
    for (const f of local) expect(commit.files[f]!.equals(readFileSync(path.join(model.modelDir, f)))).toBe(true);
    expect(r.json.files).toBe(local.length);
    expect(r.stdout + r.stderr).not.toContain('hf_test_write_token');
    const l2 = Ledger.open(env.LLMOPS_DB);
    expect(l2.artifacts(model.runId).find((a) => a.path === `${hubUrl}/me/tiny-chat`)).toBeDefined();
    l2.close();

    // A second push to the same repository adds a commit (the 409 on create is expected).
    const again = await runCli(['push', model.modelDir, '--repo', 'me/tiny-chat', '--json'], {cwd: dir, env});
    expect(again.code, again.stderr).toBe(0);
    expect(seen.commits.filter((c) => c.repo === 'me/tiny-chat')).toHaveLength(2);
  });

  it('fails clearly without HF_TOKEN, with a refused token (never printed), and with a bad --repo', async () => {
    const dir = tempDir();
    const base = {LLMOPS_DB: path.join(dir, 'l.db'), HF_ENDPOINT: hubUrl};
    const none = await runCli(['push', model.modelDir, '--repo', 'me/x'], {cwd: dir, env: {...base, HF_TOKEN: ''}});
    expect(none.code).toBe(8);
    expect(none.stderr).toContain('HF_TOKEN');
    const bad = await runCli(['push', model.modelDir, '--repo', 'me/x', '--json'], {cwd: dir, env: {...base, HF_TOKEN: 'hf_wrong_secret_value'}});
    expect(bad.code).toBe(4);
    expect(bad.json.error.message).toContain('refused the token');
    expect(bad.stdout + bad.stderr).not.toContain('hf_wrong_secret_value');
    const repo = await runCli(['push', model.modelDir, '--repo', 'not-a-repo'], {cwd: dir, env: {...base, HF_TOKEN: 'x'}});
    expect(repo.code).toBe(2);
  });
});
