/**
 * `llmops deploy --model hf:OWNER/NAME@REV`. The Hub is the one part we cannot reach here, so a
 * local HTTP server on 127.0.0.1 stands in for it (test/helpers/hub-stand-in.ts), serving a
 * tiny GPT-2 written by the project's exporter plus files a server must NOT fetch: the safetensors
 * checkpoint and other dtype graphs.
 */
import {createHash} from 'node:crypto';
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli} from '../helpers/cli.js';
import {fixtureFolder} from '../model/fixtures.js';
import {exportRandom} from '../trainer/hf-helpers.js';
import {serveRepo, type StandIn} from '../helpers/hub-stand-in.js';

const REPO = 'acme/tiny-gpt2';
const SHA = createHash('sha1').update('tiny-gpt2@v1').digest('hex');
const BAD_SHA = createHash('sha1').update('tiny-gpt2@bad').digest('hex');
const TOKEN = 'hf_' + 'StandInServeToken0123456789abcdefgh';

let root: string;
let modelDir: string;
let hub: StandIn | undefined;
let url = '';
/** What the stand-in saw since the last reset. */
const requests = () => hub!.seen;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-hf-hub-'));
  modelDir = exportRandom(root, 'export', {model_type: 'gpt2', n_embd: 32, n_layer: 2, n_head: 2, n_positions: 64, initializer_range: 0.2}, fixtureFolder('gpt2'));
  // What a published repository also holds and a CPU server must not download.
  writeFileSync(path.join(modelDir, 'onnx', 'model_fp16.onnx'), Buffer.alloc(200_000, 1));
  writeFileSync(path.join(modelDir, 'onnx', 'model_q4.onnx'), Buffer.alloc(100_000, 2));
  // A private repo; tag v1 is the commit SHA; "bad" is a commit whose listing lies about
  // config.json's size (the download must be refused).
  hub = await serveRepo(REPO, modelDir, SHA, {token: TOKEN, revisions: {v1: SHA, bad: BAD_SHA}, misreport: {sha: BAD_SHA, path: 'config.json'}});
  url = hub.url;
}, 300_000);

afterAll(async () => {
  await hub?.close();
  if (root) rmSync(root, {recursive: true, force: true});
});

describe('deploy --model hf:OWNER/NAME@REV (Hub mocked by a local stand-in server on 127.0.0.1)', () => {
  it('downloads only the needed files at the revision\'s commit into HF_HOME, records the commit, serves, and never writes the token (Hub mocked)', async () => {
    const hfHome = path.join(root, 'hf-home');
    const env = {LLMOPS_DB: path.join(root, 'ledger.db'), HF_ENDPOINT: url, HF_TOKEN: TOKEN, HF_HOME: hfHome};
    requests().length = 0;
    const up = await runCli(['deploy', '--model', `hf:${REPO}@v1`, '--name', 'hub', '--port', '0', '--detach', '--json'], {cwd: root, env});
    expect(up.code, up.stderr).toBe(0);
    try {
      const snapshot = path.join(hfHome, 'hub', `models--acme--tiny-gpt2`, 'snapshots', SHA);
      expect(up.json.modelDir).toBe(snapshot);
      expect(readFileSync(path.join(hfHome, 'hub', 'models--acme--tiny-gpt2', 'refs', 'v1'), 'utf8')).toBe(SHA);
      const fetched = requests().filter((q) => q.path.includes('/resolve/')).map((q) => q.path.split(`/resolve/${SHA}/`)[1]);
      expect(new Set(fetched)).toEqual(new Set(['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'llmops_model.json', 'onnx/model.onnx']));
      expect(existsSync(path.join(snapshot, 'model.safetensors'))).toBe(false);
      expect(existsSync(path.join(snapshot, 'onnx', 'model_fp16.onnx'))).toBe(false);
      const r = await fetch(up.json.url + '/v1/completions', {method: 'POST', body: JSON.stringify({prompt: 'Hello', max_tokens: 4, temperature: 0})});
      expect(r.status).toBe(200);
      const ledger = Ledger.open(env.LLMOPS_DB);
      expect(JSON.parse(ledger.findDeployment('hub')!.config_json).source).toBe(`hf:${REPO}@${SHA}`);
      ledger.close();
      const db = Buffer.concat([env.LLMOPS_DB, env.LLMOPS_DB + '-wal'].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
      for (const text of [db, up.stdout, up.stderr, readFileSync(up.json.logPath)]) expect(String(text)).not.toContain(TOKEN);
    } finally {
      await runCli(['deploy', 'stop', 'hub'], {cwd: root, env});
    }

    // Offline: the cached revision serves with no request to the Hub.
    requests().length = 0;
    const offline = {...env, HF_HUB_OFFLINE: '1', HF_TOKEN: ''};
    const again = await runCli(['deploy', '--model', `hf:${REPO}@v1`, '--name', 'hub-offline', '--port', '0', '--detach', '--json'], {cwd: root, env: offline});
    expect(again.code, again.stderr).toBe(0);
    await runCli(['deploy', 'stop', 'hub-offline'], {cwd: root, env: offline});
    expect(again.json.modelDir).toContain(SHA);
    expect(requests()).toHaveLength(0);
    const missing = await runCli(['deploy', '--model', `hf:${REPO}@v2`, '--name', 'nope', '--port', '0', '--json'], {cwd: root, env: offline});
    expect(missing.code).toBe(8);
    expect(missing.json.error.message).toContain('is not in the cache');
  });

  it('a file that does not match the listing is refused; a wrong token is an input error without the token (Hub mocked)', async () => {
    const env = {LLMOPS_DB: path.join(root, 'ledger2.db'), HF_ENDPOINT: url, HF_TOKEN: TOKEN, HF_HOME: path.join(root, 'hf-home-2')};
    const bad = await runCli(['deploy', '--model', `hf:${REPO}@bad`, '--name', 'bad', '--port', '0', '--json'], {cwd: root, env});
    expect(bad.code).toBe(8);
    expect(bad.json.error.message).toContain('does not match the Hub');
    const wrong = 'hf_' + 'WrongToken0123456789abcdefghijkl';
    const denied = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'denied', '--port', '0', '--json'], {cwd: root, env: {...env, HF_TOKEN: wrong}});
    expect(denied.code).toBe(4);
    expect(denied.json.error.message).toContain('access denied');
    expect(denied.stdout + denied.stderr).not.toContain(wrong);
  });
});
