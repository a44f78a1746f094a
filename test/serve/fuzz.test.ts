/**
 * Hostile traffic against a real server process (`llmops deploy`, attached, loopback only):
 * 10,000 malformed requests, each answered with a 4xx, never a 5xx, while valid requests keep being
 * served during and after, and the process neither crashes nor stops answering.
 */
import {type ChildProcess} from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {writeFileSync} from 'node:fs';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {spawnCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

const FUZZ_COUNT = 10_000;
let child: ChildProcess;
let url: string;
let stderr = '';
let exit: Promise<number | null>;

beforeAll(async () => {
  const {modelDir} = await tinyModel();
  const dir = tempDir();
  // Short body deadline so slow-body requests resolve quickly; small body limit so 413s are cheap.
  writeFileSync(path.join(dir, 'llmops.yaml'), 'deploy:\n  request_timeout_s: 2\n  max_body_bytes: 65536\n');
  child = spawnCli(['deploy', '--model', modelDir, '--name', 'tiny', '--port', '0'], {cwd: dir, env: {LLMOPS_DB: path.join(dir, 'l.db')}});
  exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /serving tiny at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`server exited: ${stderr}`)));
  });
});

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const valid = {model: 'tiny', messages: [{role: 'user', content: 'hi'}], max_tokens: 2};
const BAD_VALUES: Record<string, unknown[]> = {
  model: [5, true, {}, [], 'x'.repeat(600), 'no-such-model'],
  messages: [null, 'hi', 5, [], [{}], [{role: 'user'}], [{role: 'root', content: 'x'}], [{role: 'user', content: {a: 1}}], [[1]], [{role: 'user', content: [{type: 'image_url'}]}]],
  max_tokens: [-1, 0, 1.5, '5', 1e308, -1e308, 2 ** 53, true, [], {}, 100_000],
  max_completion_tokens: [-5, 0, 'x', 3.3],
  temperature: [-1, 3, 'warm', [], {}],
  top_p: [0, -0.5, 2, 'p'],
  top_k: [-2, 0.5, 'k', 1e12],
  seed: [1.5, 'seed', 2 ** 70, -(2 ** 70), {}],
  stop: [5, [1, 2], Array(40).fill('x'), [''], {}],
  n: [2, 0, -1, 'one', 1.5],
  stream: ['true', 1, [], {}],
  stream_options: ['x', 5, [], {include_usage: 'yes'}],
};
const FIELDS = Object.keys(BAD_VALUES);
const ROUTES = ['/', '/v1', '/v1/chat', '/v1/chat/completions/', '/v2/completions', '/../etc/passwd', '/v1/models/x', '/%00', '/v1/completions?x=%zz'];

interface Fuzz {
  method: string;
  path: string;
  body: Buffer | string;
  headers?: Record<string, string>;
}

function makeFuzz(r: () => number): Fuzz {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const kind = Math.floor(r() * 10);
  const chatPath = r() < 0.5 ? '/v1/chat/completions' : '/v1/completions';
  switch (kind) {
    case 0: {
      // Random bytes, often invalid UTF-8.
      const n = Math.floor(r() * 200);
      return {method: 'POST', path: chatPath, body: Buffer.from(Array.from({length: n}, () => Math.floor(r() * 256)))};
    }
    case 1: {
      // A valid request cut short.
      const text = JSON.stringify(valid);
      return {method: 'POST', path: chatPath, body: text.slice(0, Math.floor(r() * (text.length - 1)))};
    }
    case 2: {
      // Invalid UTF-8 inside a JSON string.
      const head = Buffer.from('{"model":"tiny","messages":[{"role":"user","content":"');
      return {method: 'POST', path: '/v1/chat/completions', body: Buffer.concat([head, Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0x28]), Buffer.from('"}]}')])};
    }
    case 3:
    case 4:
    case 5: {
      // A wrong type or out-of-range value in one field (chat endpoint: every field applies).
      const field = pick(FIELDS);
      return {method: 'POST', path: '/v1/chat/completions', body: JSON.stringify({...valid, [field]: pick(BAD_VALUES[field]!)})};
    }
    case 6:
      return {method: pick(['GET', 'PUT', 'DELETE', 'PATCH', 'POST']), path: pick(ROUTES), body: '{}'};
    case 7:
      // Deep nesting, huge numbers, prototype tricks, non-objects.
      return {
        method: 'POST',
        path: chatPath,
        body: pick([
          '['.repeat(5000) + ']'.repeat(5000),
          '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
          '{"__proto__":{"max_tokens":5},"constructor":{"prototype":{}}}',
          '1e999999',
          'null',
          '"string"',
          '{"messages":' + '9'.repeat(400) + '}',
          '{"prompt":' + JSON.stringify('x'.repeat(60_000)) + ',"max_tokens":1}',
        ]),
      };
    case 8:
      // Over the context: prompt plus max_tokens exceed 128 tokens.
      return {method: 'POST', path: '/v1/completions', body: JSON.stringify({prompt: 'word '.repeat(10 + Math.floor(r() * 40)), max_tokens: 120})};
    default:
      // Bodies over the limit, or a bad API route with a method the route refuses.
      return r() < 0.5
        ? {method: 'POST', path: chatPath, body: 'x'.repeat(70_000)}
        : {method: 'GET', path: chatPath, body: ''};
  }
}

const agent = new http.Agent({keepAlive: true, maxSockets: 8});

function send(f: Fuzz): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + f.path, {method: f.method, agent, headers: {'content-type': 'application/json', ...f.headers}}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(f.body);
  });
}

async function validChat(): Promise<number> {
  const r = await fetch(url + '/v1/chat/completions', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(valid)});
  await r.text();
  return r.status;
}

/** A body that starts and never finishes: the server must give up with a 408 on its own. */
function slowBody(): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":');
    });
    let data = '';
    sock.on('data', (d) => (data += d));
    sock.on('close', () => resolve(data));
    sock.on('error', () => resolve(data));
  });
}

it(`answers ${FUZZ_COUNT} malformed or hostile requests with 4xx, never 5xx, while serving valid ones`, async () => {
  const r = rng(20261126);
  const statuses = new Map<number, number>();
  const wrong: Array<{status: number; f: Fuzz}> = [];
  const slow = Array.from({length: 4}, () => slowBody());
  let validOk = 0;
  let validAll = 0;
  let fuzzing = true;
  // Valid traffic for as long as the fuzzing lasts.
  const validLoop = (async () => {
    while (fuzzing) {
      validAll++;
      if ((await validChat()) === 200) validOk++;
    }
  })();
  let next = 0;
  const worker = async () => {
    while (next < FUZZ_COUNT) {
      next++;
      const f = makeFuzz(r);
      const status = await send(f);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status < 400 || status >= 500) wrong.push({status, f: {...f, body: String(f.body).slice(0, 200)}});
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({length: 8}, worker));
  fuzzing = false;
  await validLoop;
  const slowReplies = await Promise.all(slow);
  const seconds = (Date.now() - started) / 1000;
  console.log(`fuzz: ${FUZZ_COUNT} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}; valid during: ${validOk}/${validAll}`);
  expect(wrong.slice(0, 5)).toEqual([]);
  expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(FUZZ_COUNT);
  for (const reply of slowReplies) expect(reply).toMatch(/^HTTP\/1\.1 408/);
  expect(validAll).toBeGreaterThan(5);
  expect(validOk).toBe(validAll);
  // And after: still serving, still the same process.
  expect(await validChat()).toBe(200);
  expect((await fetch(url + '/health')).status).toBe(200);
  expect(child.exitCode).toBeNull();
  // Ctrl-C stops it cleanly.
  child.kill('SIGINT');
  expect(await exit).toBe(0);
  expect(stderr).toContain('Stopped tiny.');
  expect(stderr).not.toMatch(/unexpected error/i);
}, 240_000);
