/** Every error case over raw HTTP: OpenAI's error shape, the right status, the field named. */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {deploySchema} from '../../src/lib/config/schema.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {checkBind, startServer, type RunningServer} from '../../src/lib/serve/server.js';
import {tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

let modelDir: string;
let server: RunningServer;

beforeAll(async () => {
  ({modelDir} = await tinyModel());
  server = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({max_body_bytes: 4096})});
  await server.ready;
});
afterAll(() => server?.close());

export function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{status: number; json: any; text: string}> {
  return fetch(url, {method: 'POST', body, headers: {'content-type': 'application/json', ...headers}}).then(async (r) => {
    const text = await r.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {}
    return {status: r.status, json, text};
  });
}

const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({model: 'tiny', messages: [{role: 'user', content: 'hi'}], max_tokens: 4, ...extra});

function expectError(r: {status: number; json: any}, status: number, param?: string | null) {
  expect(r.status).toBe(status);
  expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof r.json.error.message).toBe('string');
  if (param !== undefined) expect(r.json.error.param).toBe(param);
}

describe('400 for invalid JSON and parameters', () => {
  it('rejects a body that is not JSON, not UTF-8, empty or not an object', async () => {
    expectError(await post(server.url + '/v1/chat/completions', '{"model": '), 400);
    expectError(await post(server.url + '/v1/chat/completions', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400);
    expectError(await post(server.url + '/v1/chat/completions', ''), 400);
    expectError(await post(server.url + '/v1/chat/completions', '[1,2]'), 400);
    const r = await post(server.url + '/v1/chat/completions', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]));
    expect(r.json.error.message).toMatch(/UTF-8/);
  });

  it.each([
    ['max_tokens', {max_tokens: -1}],
    ['max_tokens', {max_tokens: 1.5}],
    ['max_tokens', {max_tokens: '10'}],
    ['max_tokens', {max_tokens: 1e308}],
    ['max_completion_tokens', {max_completion_tokens: 0}],
    ['temperature', {temperature: -0.1}],
    ['temperature', {temperature: 'hot'}],
    ['top_p', {top_p: 0}],
    ['top_p', {top_p: 1.5}],
    ['top_k', {top_k: -5}],
    ['seed', {seed: 2 ** 80}],
    ['n', {n: 2}],
    ['stream', {stream: 'yes'}],
    ['stop', {stop: 5}],
    ['messages', {messages: []}],
    ['messages', {messages: 'hi'}],
    ['messages.0.role', {messages: [{role: 'wizard', content: 'x'}]}],
    ['messages.0.content', {messages: [{role: 'user', content: 5}]}],
  ])('names %s when it is invalid (%j)', async (param, extra) => {
    const r = await post(server.url + '/v1/chat/completions', chat(extra));
    expectError(r, 400, param);
    expect(r.json.error.message).toContain(param);
    expect(r.json.error.type).toBe('invalid_request_error');
  });

  it('requires messages for chat and prompt for completions', async () => {
    expectError(await post(server.url + '/v1/chat/completions', JSON.stringify({model: 'tiny'})), 400, 'messages');
    expectError(await post(server.url + '/v1/completions', JSON.stringify({model: 'tiny'})), 400, 'prompt');
    expectError(await post(server.url + '/v1/completions', JSON.stringify({prompt: ['a', 'b']})), 400, 'prompt');
  });

  it('ignores unknown fields, as vLLM does', async () => {
    const r = await post(server.url + '/v1/chat/completions', chat({frobnicate: true, logit_bias: {}, user: 'u1'}));
    expect(r.status).toBe(200);
  });

  it('names the context limit when prompt plus max_tokens exceed it', async () => {
    const r = await post(server.url + '/v1/completions', JSON.stringify({prompt: 'x'.repeat(100), max_tokens: 100}));
    expectError(r, 400, 'max_tokens');
    expect(r.json.error.code).toBe('context_length_exceeded');
    expect(r.json.error.message).toContain('128 tokens');
    expect(r.json.error.message).toContain('101 in the prompt, 100 in the completion');
    const long = await post(server.url + '/v1/completions', JSON.stringify({prompt: 'x'.repeat(200)}));
    expectError(long, 400, 'prompt');
    expect(long.json.error.message).toContain('128 tokens');
  });
});

describe('404, 405, 413', () => {
  it('404 for an unknown model, naming the served one', async () => {
    const r = await post(server.url + '/v1/chat/completions', chat({model: 'gpt-4o'}));
    expectError(r, 404, 'model');
    expect(r.json.error.code).toBe('model_not_found');
    expect(r.json.error.message).toContain('"tiny"');
  });

  it('404 for an unknown route and 405 for a wrong method', async () => {
    expectError(await post(server.url + '/v1/embeddings', '{}'), 404);
    const r = await fetch(server.url + '/v1/chat/completions');
    expect(r.status).toBe(405);
  });

  it('413 for a body over deploy.max_body_bytes, declared or streamed', async () => {
    const big = chat({messages: [{role: 'user', content: 'x'.repeat(5000)}]});
    expectError(await post(server.url + '/v1/chat/completions', big), 413);
    // Chunked, so no Content-Length announces the size.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(server.url + '/v1/chat/completions', {method: 'POST', headers: {'transfer-encoding': 'chunked'}}, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe('API keys and binding', () => {
  it('401 without or with a wrong key, 200 with the right one; /health stays open', async () => {
    const s = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({}), apiKey: 'sekret-key-123'});
    await s.ready;
    try {
      const none = await post(s.url + '/v1/chat/completions', chat());
      expectError(none, 401);
      expect(none.json.error.code).toBe('invalid_api_key');
      expect(none.text).not.toContain('sekret');
      expectError(await post(s.url + '/v1/chat/completions', chat(), {authorization: 'Bearer sekret-key-12'}), 401);
      expectError(await post(s.url + '/v1/chat/completions', chat(), {authorization: 'sekret-key-123'}), 401);
      expect((await fetch(s.url + '/v1/models')).status).toBe(401);
      expect((await post(s.url + '/v1/chat/completions', chat(), {authorization: 'Bearer sekret-key-123'})).status).toBe(200);
      expect((await fetch(s.url + '/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('refuses a non-loopback address without an API key', () => {
    expect(() => checkBind('0.0.0.0', undefined, undefined)).toThrow(/Refusing to listen on 0.0.0.0 without an API key/);
    let err: any;
    try {
      checkBind('192.168.1.5', undefined, 'MY_KEY');
    } catch (error) {
      err = error;
    }
    expect(err.exitCode).toBe(2);
    expect(err.fix).toContain('MY_KEY is empty or unset');
    expect(() => checkBind('0.0.0.0', 'k', 'MY_KEY')).not.toThrow();
    expect(() => checkBind('127.0.0.1', undefined, undefined)).not.toThrow();
    expect(() => checkBind('::1', undefined, undefined)).not.toThrow();
  });
});

describe('load, queue, cancellation, deadlines', () => {
  it('503 from /health and the API while the model loads, 200 once ready', async () => {
    let load!: () => void;
    const loadAfter = new Promise<void>((r) => (load = r));
    const s = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({}), loadAfter});
    try {
      const [h, c] = await Promise.all([fetch(s.url + '/health'), post(s.url + '/v1/chat/completions', chat())]);
      expect(h.status).toBe(503);
      expectError(c, 503);
      expect(c.json.error.message).toContain('loading');
      load();
      await s.ready;
      expect((await fetch(s.url + '/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('429 when deploy.max_queue requests already wait', async () => {
    const dir = tempDir();
    const ledger = Ledger.open(path.join(dir, 'l.db'));
    const s = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({max_concurrent: 1, max_queue: 1}), ledger, deploymentId: 'd-q'});
    await s.ready;
    try {
      // One running, one waiting (slow: 120 tokens each), so the third finds the queue full.
      const slow = JSON.stringify({prompt: 'a', max_tokens: 120, temperature: 0, stop: ['\u0000never']});
      const first = post(s.url + '/v1/completions', slow);
      await waitFor(() => s.scheduler()!.numRunning === 1);
      const second = post(s.url + '/v1/completions', slow);
      await waitFor(() => s.scheduler()!.numWaiting === 1);
      const third = await post(s.url + '/v1/completions', slow);
      expectError(third, 429);
      expect(third.json.error.message).toContain('1 requests are already waiting');
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
    } finally {
      await s.close();
    }
    const rows = ledger.listRequests('d-q');
    expect(rows.map((r) => r.http_status).sort()).toEqual([200, 200, 429]);
    ledger.close();
  });

  it('stops generating when the client disconnects mid-stream, and records it as cancelled', async () => {
    const dir = tempDir();
    const ledger = Ledger.open(path.join(dir, 'l.db'));
    const s = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({}), ledger, deploymentId: 'd-c'});
    await s.ready;
    try {
      const body = JSON.stringify({prompt: 'a', max_tokens: 120, stream: true, temperature: 0});
      await new Promise<void>((resolve, reject) => {
        const req = http.request(s.url + '/v1/completions', {method: 'POST', headers: {'content-type': 'application/json'}}, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.end(body);
        setTimeout(() => reject(new Error('no data')), 10_000);
      });
      await waitFor(() => s.scheduler()!.numRunning === 0, 2000);
    } finally {
      await s.close();
    }
    const [row] = ledger.listRequests('d-c');
    expect(row).toMatchObject({status: 'cancelled', finish_reason: 'cancelled', http_status: 499, stream: 1});
    expect(row!.completion_tokens).toBeLessThan(120);
    ledger.close();
  });

  it('ends a stream that runs past deploy.request_timeout_s with an error event, then [DONE]', async () => {
    const s = await startServer({modelDir, modelRunId: null, name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({request_timeout_s: 0.05, max_concurrent: 1})});
    await s.ready;
    try {
      // A second request waits behind the first, so the deadline passes before it finishes.
      const body = JSON.stringify({prompt: 'a', max_tokens: 120, stream: true, temperature: 0});
      const [a, b] = await Promise.all([post(s.url + '/v1/completions', body), post(s.url + '/v1/completions', body)]);
      const texts = [a.text, b.text];
      const errored = texts.find((t) => t.includes('"error"'))!;
      expect(errored).toBeDefined();
      const events = errored.trim().split('\n\n');
      expect(events.at(-1)).toBe('data: [DONE]');
      expect(JSON.parse(events.at(-2)!.slice(6)).error.code).toBe('request_timeout');
    } finally {
      await s.close();
    }
  });

  it('answers malformed HTTP with a 400 and keeps serving', async () => {
    const u = new URL(server.url);
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect(Number(u.port), u.hostname, () => sock.write('GARBAGE / HTTP/9.9\r\n\r\n'));
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await post(server.url + '/v1/chat/completions', chat())).status).toBe(200);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
