/**
 * Streamed events share socket writes (src/lib/serve/sse.ts) without being lost, reordered or held
 * back: a real node:http server and client. No timing is asserted: a held event would never arrive
 * before the stream ends, and the server only ends once the client has seen every event.
 */
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterEach, describe, expect, it} from 'vitest';
import {SseStream} from '../../src/lib/serve/sse.js';

let server: http.Server | undefined;
afterEach(() => server?.close());

/** Serves one stream: `burst` events at once, then ends when the client says it has them all. */
async function serve(burst: number, flushMs?: number, writes = {n: 0}): Promise<{url: string; seen: () => void}> {
  let release!: () => void;
  const allSeen = new Promise<void>((r) => (release = r));
  server = http.createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'text/event-stream'});
    const write = res.write.bind(res) as (chunk: string) => boolean;
    res.write = ((chunk: string) => (writes.n++, write(chunk))) as typeof res.write;
    const events = new SseStream(res, flushMs);
    for (let i = 0; i < burst; i++) events.send({i, text: `token ${i} "quoted"\n`});
    void allSeen.then(() => {
      events.send({i: burst, text: 'last'});
      events.end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen: release};
}

describe('server-sent events', () => {
  it('delivers a burst of events in order before the stream ends, then the last one and [DONE]', async () => {
    const n = 50;
    const {url, seen} = await serve(n);
    const {events, chunks} = await read(url, n, seen);
    // 52 events, far fewer reads: they shared writes.
    expect(chunks).toBeLessThan(n);
    expect(events).toEqual([...Array.from({length: n}, (_, i) => ({i, text: `token ${i} "quoted"\n`})), {i: n, text: 'last'}, '[DONE]']);
  }, 15_000);

  it('shares writes by default, and writes each event at once with deploy.stream_flush_ms 0', async () => {
    const n = 50;
    const shared = {n: 0};
    const a = await serve(n, undefined, shared);
    expect((await read(a.url, n, a.seen)).events).toHaveLength(n + 2);
    server!.close();
    // The first event goes out at once; the rest of the burst waits for company.
    expect(shared.n).toBeLessThan(5);
    const each = {n: 0};
    const b = await serve(n, 0, each);
    expect((await read(b.url, n, b.seen)).events).toHaveLength(n + 2);
    expect(each.n).toBe(n + 1); // the last event and [DONE] are one end() write
  }, 15_000);
});

/** Reads one stream's events; calls `seen` once the burst's n events have arrived (the stream still open). */
async function read(url: string, n: number, seen: () => void): Promise<{events: unknown[]; chunks: number}> {
    const events: unknown[] = [];
    let buf = '';
    let chunks = 0;
    await new Promise<void>((resolve, reject) => {
      http
        .get(url, (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            chunks++;
            buf += d;
            let k;
            while ((k = buf.indexOf('\n\n')) !== -1) {
              const line = buf.slice(0, k);
              buf = buf.slice(k + 2);
              expect(line.startsWith('data: ')).toBe(true);
              const data = line.slice(6);
              events.push(data === '[DONE]' ? data : JSON.parse(data));
              // Every event of the burst arrived while the stream was still open.
              if (events.length === n) seen();
            }
          });
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    return {events, chunks};
}
