/**
 * Resumable `hf:OWNER/NAME` downloads. The Hub is the one part we cannot reach, so a local server
 * on 127.0.0.1 stands in for it (test/helpers/hub-stand-in.ts): it honours `Range: bytes=N-` as the
 * Hub does and drops the connection in the middle of a file, as a flaky network does. A cut is
 * resumed at once within the command (up to 5 tries); a command that runs out of tries fails keeping
 * the part, and the same command again asks only for the rest and ends with the file verified
 * against the listing's sha256; a partial altered on disk is caught, deleted and named.
 */
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {fixtureFolder} from '../model/fixtures.js';
import {exportRandom} from '../trainer/hf-helpers.js';
import {makeProject} from '../runtime/helpers.js';
import {serveRepo} from '../helpers/hub-stand-in.js';

const REPO = 'acme/tiny-resume';
const SHA = createHash('sha1').update('tiny-resume@1').digest('hex');
const TOKEN = 'hf_' + 'StandInResumeToken0123456789abcdef';

let root = '';
let modelDir = '';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const bytes = (rel: string) => readFileSync(path.join(modelDir, rel));

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-hf-resume-'));
  modelDir = exportRandom(root, 'export', {model_type: 'gpt2', n_embd: 32, n_layer: 2, n_head: 2, n_positions: 64, initializer_range: 0.2}, fixtureFolder('gpt2'));
}, 120_000);

/** The byte count a "the download was cut after N of TOTAL bytes" message reports. */
function keptBytes(message: string, total: number): number {
  const m = new RegExp(`was cut after (\\d+) of ${total} bytes`).exec(message);
  expect(m, message).not.toBeNull();
  return Number(m![1]);
}

afterAll(() => {
  if (root) rmSync(root, {recursive: true, force: true});
});

describe('hf:OWNER/NAME downloads resume after a cut connection (Hub mocked by a local stand-in server)', () => {
  it('deploy: a link that keeps dropping fails after 5 tries keeping the part; the rerun asks for the rest (Range) and serves the verified file; the token is never written (Hub mocked)', {timeout: 120_000}, async () => {
    const onnx = bytes('onnx/model.onnx');
    const cutEach = Math.floor(onnx.length / 10);
    const cutAt = 5 * cutEach; // at most this much arrives over the 5 cut tries
    const hub = await serveRepo(REPO, modelDir, SHA, {token: TOKEN, cut: {path: 'onnx/model.onnx', at: cutEach, times: 5}});
    const hfHome = path.join(root, 'hf-home');
    const env = {LLMOPS_DB: path.join(root, 'ledger.db'), HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: hfHome};
    const blob = path.join(hfHome, 'hub', 'models--acme--tiny-resume', 'blobs', sha256(onnx));
    try {
      const first = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'resume', '--port', '0', '--detach', '--json'], {cwd: root, env});
      expect(first.code, first.stderr).toBe(8);
      expect(first.stderr).toContain('trying again (5 of 5)');
      const tries = hub.requests.filter((q) => q.includes('/resolve/') && q.includes('onnx/model.onnx'));
      expect(tries).toHaveLength(5);
      expect(tries[0]).toBe(`GET /${REPO}/resolve/${SHA}/onnx/model.onnx`);
      for (const q of tries.slice(1)) expect(q).toMatch(/ bytes=\d+-$/);
      // The stand-in drops the connection after sending cutEach bytes a try; on a loaded machine the
      // client may not have read all of them before the reset, so what is kept is at most 5 x that.
      const kept = keptBytes(first.json.error.message, onnx.length);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(cutAt);
      expect(first.json.error.message).toContain('the next attempt resumes');
      expect(readFileSync(`${blob}.incomplete`).length).toBe(kept);
      expect(existsSync(blob)).toBe(false);

      hub.requests.length = 0;
      const second = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'resume', '--port', '0', '--detach', '--json'], {cwd: root, env});
      expect(second.code, second.stderr).toBe(0);
      try {
        const onnxGets = hub.requests.filter((q) => q.includes('/resolve/') && q.includes('onnx/model.onnx'));
        expect(onnxGets).toEqual([`GET /${REPO}/resolve/${SHA}/onnx/model.onnx bytes=${kept}-`]);
        // Files finished the first time are not fetched again.
        expect(hub.requests.filter((q) => q.includes('/resolve/'))).toHaveLength(1);
        expect(sha256(readFileSync(blob))).toBe(sha256(onnx));
        expect(existsSync(`${blob}.incomplete`)).toBe(false);
        expect(readFileSync(path.join(second.json.modelDir, 'onnx', 'model.onnx')).equals(onnx)).toBe(true);
        const r = await fetch(second.json.url + '/v1/completions', {method: 'POST', body: JSON.stringify({prompt: 'Hello', max_tokens: 3, temperature: 0})});
        expect(r.status).toBe(200);
        for (const text of [first.stdout, first.stderr, second.stdout, second.stderr, readFileSync(second.json.logPath, 'utf8')]) expect(text).not.toContain(TOKEN);
      } finally {
        await runCli(['deploy', 'stop', 'resume'], {cwd: root, env});
      }
    } finally {
      await hub.close();
    }
  });

  it('a partial altered on disk fails the sha256 check, is deleted and named; the next run downloads it afresh (Hub mocked)', {timeout: 120_000}, async () => {
    const onnx = bytes('onnx/model.onnx');
    const hub = await serveRepo(REPO, modelDir, SHA, {token: TOKEN});
    const hfHome = path.join(root, 'hf-home-corrupt');
    const env = {LLMOPS_DB: path.join(root, 'ledger-corrupt.db'), HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: hfHome};
    const blob = path.join(hfHome, 'hub', 'models--acme--tiny-resume', 'blobs', sha256(onnx));
    mkdirSync(path.dirname(blob), {recursive: true});
    const part = Buffer.from(onnx.subarray(0, 1000));
    part[500] = part[500]! ^ 0xff;
    writeFileSync(`${blob}.incomplete`, part);
    try {
      const bad = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'corrupt', '--port', '0', '--json'], {cwd: root, env});
      expect(bad.code, bad.stderr).toBe(8);
      expect(bad.json.error.message).toContain('onnx/model.onnx: the downloaded file does not match the Hub\'s listing (sha256');
      expect(bad.json.error.message).toContain('the partial download was deleted');
      expect(hub.requests).toContain(`GET /${REPO}/resolve/${SHA}/onnx/model.onnx bytes=1000-`);
      expect(existsSync(`${blob}.incomplete`)).toBe(false);
      expect(existsSync(blob)).toBe(false);

      const good = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'corrupt', '--port', '0', '--detach', '--json'], {cwd: root, env});
      expect(good.code, good.stderr).toBe(0);
      await runCli(['deploy', 'stop', 'corrupt'], {cwd: root, env});
      expect(sha256(readFileSync(blob))).toBe(sha256(onnx));
    } finally {
      await hub.close();
    }
  });

  it('a download the Hub redirects to another host (its CDN) gets no token there, and still verifies (Hub and CDN mocked by local stand-in servers)', {timeout: 120_000}, async () => {
    const onnx = bytes('onnx/model.onnx');
    const seen: Array<{auth: string | undefined; range: string | undefined}> = [];
    const cdn = http.createServer((req, res) => {
      seen.push({auth: req.headers.authorization, range: req.headers.range});
      res.writeHead(200, {'content-length': String(onnx.length), 'content-type': 'application/octet-stream'});
      res.end(onnx);
    });
    await new Promise<void>((ok) => cdn.listen(0, '127.0.0.1', ok));
    const cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/blobs/model.onnx?signature=abc`;
    const hub = await serveRepo(REPO, modelDir, SHA, {token: TOKEN, redirect: {path: 'onnx/model.onnx', to: cdnUrl}});
    const env = {LLMOPS_DB: path.join(root, 'ledger-cdn.db'), HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: path.join(root, 'hf-home-cdn')};
    try {
      const up = await runCli(['deploy', '--model', `hf:${REPO}`, '--name', 'cdn', '--port', '0', '--detach', '--json'], {cwd: root, env});
      expect(up.code, up.stderr).toBe(0);
      await runCli(['deploy', 'stop', 'cdn'], {cwd: root, env});
      expect(hub.requests).toContain(`GET /${REPO}/resolve/${SHA}/onnx/model.onnx`);
      expect(seen).toEqual([{auth: undefined, range: undefined}]);
      expect(readFileSync(path.join(up.json.modelDir, 'onnx', 'model.onnx')).equals(onnx)).toBe(true);
    } finally {
      await hub.close();
      await new Promise<void>((ok) => cdn.close(() => ok()));
    }
  });

  it('export hf:OWNER/NAME: a checkpoint cut mid-download is resumed within the same command (Range) and converts (Hub mocked)', {timeout: 180_000}, async () => {
    const weights = bytes('model.safetensors');
    const cutAt = Math.floor(weights.length / 3);
    const hub = await serveRepo(REPO, modelDir, SHA, {cut: {path: 'model.safetensors', at: cutAt}});
    const project = makeProject();
    const env = {HF_ENDPOINT: hub.url, HF_TOKEN: undefined, HF_HOME: undefined, HF_HUB_CACHE: undefined};
    try {
      const r = await runCli(['export', `hf:${REPO}`, '--json', '--verbose'], {cwd: project.dir, env});
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stderr).toContain('model.safetensors: the download was cut after');
      expect(r.stderr).toContain('trying again (2 of 5)');
      const kept = keptBytes(r.stderr, weights.length);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(cutAt);
      expect(hub.requests.filter((q) => q.includes('/resolve/') && q.includes('model.safetensors'))).toEqual([
        `GET /${REPO}/resolve/${SHA}/model.safetensors`,
        `GET /${REPO}/resolve/${SHA}/model.safetensors bytes=${kept}-`,
      ]);
      expect(r.json).toMatchObject({source: `hf:${REPO}`, revision: SHA, family: 'gpt2', parity: {checked: true, ok: true}});
    } finally {
      await hub.close();
    }
  });
});
