/**
 * Client errors (4xx) apart from server errors (5xx) and cut-off requests, through a real server:
 * `llmops deploy` of the tiny test model, real HTTP requests (good ones, bad JSON, an unknown model,
 * a stream the client walks away from), then `llmops monitor` on the ledger the server wrote.
 */
import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {stringify} from 'yaml';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from '../serve/helpers/model.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let env: Record<string, string>;
const yaml = (slo: Record<string, number>) => writeFileSync(path.join(dir, 'llmops.yaml'), stringify({name: 'client-errors', monitor: {slo}}));

/** Reads the first event of a stream, then closes the connection: the server records it as cut off (499). */
async function walkAway(url: string): Promise<void> {
  const ac = new AbortController();
  const res = await fetch(url + '/v1/completions', {
    method: 'POST',
    body: JSON.stringify({model: 'edge', prompt: 'the cat sat on', max_tokens: 100, ignore_eos: true, stream: true}),
    signal: ac.signal,
  });
  expect(res.status).toBe(200);
  await res.body!.getReader().read();
  ac.abort();
}

beforeAll(async () => {
  const model = await tinyModel();
  dir = tempDir('llmops-monitor-4xx-');
  env = {LLMOPS_DB: path.join(dir, 'ledger.db')};
  yaml({});
  const up = await runCli(['deploy', '--model', model.modelDir, '--name', 'edge', '--port', '0', '--detach', '--json'], {cwd: dir, env});
  expect(up.code, up.stderr).toBe(0);
  const url: string = up.json.url;
  try {
    const post = (body: string) => fetch(url + '/v1/completions', {method: 'POST', body}).then(async (r) => (await r.text(), r.status));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await post(JSON.stringify({model: 'edge', prompt: 'the dog ran', max_tokens: 2})));
    statuses.push(await post('{not json'));
    statuses.push(await post(JSON.stringify({model: 'edge', max_tokens: 2})));
    statuses.push(await post(JSON.stringify({model: 'nope', prompt: 'hi', max_tokens: 2})));
    expect(statuses).toEqual([200, 200, 200, 200, 400, 400, 404]);
    await walkAway(url);
    await sleep(300); // the server notices the closed connection and records the request
  } finally {
    const down = await runCli(['deploy', 'stop', 'edge'], {cwd: dir, env});
    expect(down.code, down.stderr).toBe(0);
  }
}, 300_000);
afterAll(() => {
  yaml({});
});

describe('monitor: client errors (4xx) apart from server errors (5xx) and cut-off streams', () => {
  it('--json counts each class once; error_rate leaves the 4xx out and counts the cut-off stream', async () => {
    const res = await runCli(['monitor', 'edge', '--since', '1h', '--json'], {cwd: dir, env});
    expect(res.code, res.stderr).toBe(0);
    const j = res.json;
    expect(j.requests).toBe(8);
    expect(j.by_status).toEqual({ok: 4, error: 3, cancelled: 1});
    expect(j.by_class).toEqual({ok: 4, client_error: 3, server_error: 0, cut_off: 1});
    expect(j.error_rate).toBeCloseTo(1 / 8, 3);
    expect(j.client_error_rate).toBeCloseTo(3 / 8, 3);
    expect(j.client_errors_by_http_status).toEqual({'400': 2, '404': 1});
    expect(Object.keys(j.client_errors_by_http_status)).toEqual(['400', '404']); // most frequent first
  });

  it('prints client errors on a line of their own, with their HTTP statuses', async () => {
    const res = await runCli(['monitor', 'edge', '--since', '1h'], {cwd: dir, env});
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^errors\s+1 {2}\(12\.50%: 0 5xx, 1 cut off\)$/m);
    expect(res.stdout).toMatch(/^client errors\s+3 {2}\(37\.50%: 400 x2, 404 x1; not in the error rate\)$/m);
  });

  it('4xx do not break the error-rate SLO: --check passes (exit 0) with error_rate 0.2', async () => {
    yaml({error_rate: 0.2});
    const res = await runCli(['monitor', 'edge', '--since', '1h', '--check', '--json'], {cwd: dir, env});
    expect(res.code, res.stderr).toBe(0);
    expect(res.json.slo.checks).toEqual([expect.objectContaining({slo: 'error_rate', actual: 0.125, status: 'pass'})]);
  });

  it('the client-error SLO fails --check with exit 7 when set and exceeded', async () => {
    yaml({error_rate: 0.2, client_error_rate: 0.25});
    const res = await runCli(['monitor', 'edge', '--since', '1h', '--check'], {cwd: dir, env});
    expect(res.code, res.stderr).toBe(7);
    expect(res.stdout).toMatch(/client_error_rate\s+client error rate \(4xx\)\s+0\.375\s+<= 0\.25\s+FAIL/);
    expect(res.stdout).toMatch(/error_rate\s+error rate \(5xx \+ cut off\)\s+0\.125\s+<= 0\.2\s+pass/);
    expect(res.stderr).toContain('SLO breached: client_error_rate (exit 7)');
  });

  it('a client_error_rate that is not a ratio is a config error (exit 3) naming the key', async () => {
    yaml({client_error_rate: 3});
    const res = await runCli(['monitor', 'edge', '--check'], {cwd: dir, env});
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('monitor.slo.client_error_rate');
  });
});
