/**
 * `llmops push` against a local stand-in for the Hugging Face Hub (the real Hub is a boundary we
 * cannot reach from tests): it speaks the Hub's create-repo, preupload and NDJSON commit API, and
 * answers every file as a "regular" (non-LFS) upload. The last test serves what was committed back
 * through the download stand-in (test/helpers/hub-stand-in.ts), where transformers.js loads it.
 */
import http from 'node:http';
import {mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {AddressInfo} from 'node:net';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';
import {serveRepo} from '../helpers/hub-stand-in.js';
import {fixtureFolder} from '../model/fixtures.js';
import {TINY, exportRandom, greedyCompletion} from '../trainer/hf-helpers.js';

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

  it('a pushed Llama export is a repo transformers.js loads from the Hub as is, and `deploy --model hf:` serves the same greedy text (Hub mocked)', {timeout: 180_000}, async () => {
    const dir = tempDir();
    const modelDir = exportRandom(dir, 'llama', {...TINY.llama, initializer_range: 0.2}, fixtureFolder('phi3'));
    const env = {LLMOPS_DB: path.join(dir, 'l.db'), HF_ENDPOINT: hubUrl, HF_TOKEN: 'hf_test_write_token'};
    const pushed = await runCli(['push', modelDir, '--repo', 'me/llama-rt', '--json'], {cwd: dir, env});
    expect(pushed.code, pushed.stderr).toBe(0);

    // The repository as the Hub now holds it: exactly the committed files, nothing from our disk.
    const repoDir = path.join(dir, 'hub-repo');
    for (const [f, bytes] of Object.entries(seen.commits.at(-1)!.files)) {
      mkdirSync(path.dirname(path.join(repoDir, f)), {recursive: true});
      writeFileSync(path.join(repoDir, f), bytes);
    }
    const hub2 = await serveRepo('me/llama-rt', repoDir, 'abc123def4567890abc123def4567890abc12345');
    try {
      const prompt = 'Once upon a time, in a land far away,';
      const tjs = await import('@huggingface/transformers');
      tjs.env.allowLocalModels = false;
      tjs.env.allowRemoteModels = true;
      tjs.env.remoteHost = hub2.url + '/';
      tjs.env.cacheDir = path.join(dir, 'tjs-cache');
      const tokenizer = await tjs.AutoTokenizer.from_pretrained('me/llama-rt');
      const model = await tjs.AutoModelForCausalLM.from_pretrained('me/llama-rt', {dtype: 'fp32', device: 'cpu'});
      const {text: reference, tokens} = await greedyCompletion({tjs, tokenizer, model}, prompt, 10);
      await model.dispose();
      expect(hub2.seen.some((q) => q.path === '/me/llama-rt/resolve/main/onnx/model.onnx')).toBe(true);
      expect(reference.length).toBeGreaterThan(0);

      const up = await runCli(['deploy', '--model', 'hf:me/llama-rt', '--name', 'rt', '--port', '0', '--detach', '--json'],
        {cwd: dir, env: {...env, HF_ENDPOINT: hub2.url, HF_HOME: path.join(dir, 'hf-home')}});
      expect(up.code, up.stderr).toBe(0);
      try {
        const r = await fetch(up.json.url + '/v1/completions', {method: 'POST', headers: {'content-type': 'application/json'},
          body: JSON.stringify({prompt, max_tokens: 10, temperature: 0})});
        const body = (await r.json()) as {choices: Array<{text: string}>; usage: {completion_tokens: number}};
        expect(body.usage.completion_tokens).toBe(tokens);
        expect(body.choices[0]!.text).toBe(reference);
      } finally {
        await runCli(['deploy', 'stop', 'rt'], {cwd: dir, env});
      }
    } finally {
      await hub2.close();
    }
  });
});
