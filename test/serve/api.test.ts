/** The OpenAI API as a real client sees it: the `openai` npm package against the server on 127.0.0.1. */
import OpenAI from 'openai';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {deploySchema} from '../../src/lib/config/schema.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {startServer, type RunningServer} from '../../src/lib/serve/server.js';
import {tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';
import {sqlite} from '../helpers/sqlite.js';

let server: RunningServer;
let client: OpenAI;
let ledger: Ledger;
let modelDir: string;

beforeAll(async () => {
  ({modelDir} = await tinyModel());
  ledger = Ledger.open(path.join(tempDir(), 'ledger.db'));
  ledger.insertDeployment({
    id: 'd-api', name: 'tiny', status: 'running', model_run_id: 'r-serve-test', model_dir: modelDir, target: 'local',
    host: '127.0.0.1', port: 0, url: '', pid: process.pid, log_path: null, price_per_hour: 0.5, config_json: '{}',
  });
  server = await startServer({
    modelDir, modelRunId: 'r-serve-test', name: 'tiny', host: '127.0.0.1', port: 0,
    deploy: deploySchema.parse({price_per_hour: 0.5}), ledger, deploymentId: 'd-api',
  });
  await server.ready;
  client = new OpenAI({baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0});
});

afterAll(async () => {
  await server?.close();
  ledger?.close();
});

describe('chat completions', () => {
  it('answers in the chat.completion shape with usage', async () => {
    const r = await client.chat.completions.create({model: 'tiny', messages: [{role: 'user', content: 'say cat'}], max_tokens: 8, temperature: 0});
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('tiny');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(typeof r.choices[0]!.message.content).toBe('string');
    expect(['stop', 'length']).toContain(r.choices[0]!.finish_reason);
    // "<|user|>\nsay cat<|end|>\n<|assistant|>\n": 3 specials + 9 bytes + 2 newlines... counted by the tokenizer.
    expect(r.usage!.prompt_tokens).toBe(1 + 1 + 7 + 1 + 1 + 1 + 1);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(8);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('streams chat.completion.chunk events whose text equals the non-streamed answer, with usage last', async () => {
    const req = {model: 'tiny', messages: [{role: 'user' as const, content: 'say dog'}], max_tokens: 12, temperature: 0};
    const full = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({...req, stream: true, stream_options: {include_usage: true}});
    let text = '';
    const chunks: any[] = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(text).toBe(full.choices[0]!.message.content);
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(full.usage);
    expect(chunks.at(-2).choices[0].finish_reason).toBe(full.choices[0]!.finish_reason);
  });

  it('gives the same sampled output for the same seed, and (almost surely) another one for another seed', async () => {
    const ask = (seed: number) =>
      client.chat.completions.create({model: 'tiny', messages: [{role: 'user', content: 'say park'}], max_tokens: 24, temperature: 1.5, top_p: 0.95, seed});
    const [a, b] = await Promise.all([ask(42), ask(42)]);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    const others = await Promise.all([1, 2, 3].map((s) => ask(s)));
    expect(others.some((o) => o.choices[0]!.message.content !== a.choices[0]!.message.content)).toBe(true);
  });

  it('stops at a stop string and leaves it out of the text', async () => {
    const free = await client.completions.create({model: 'tiny', prompt: 'the cat sat on', max_tokens: 30, temperature: 0});
    const text = free.choices[0]!.text;
    const stop = text.trim().slice(2, 4);
    expect(stop.length).toBe(2);
    const cut = await client.completions.create({model: 'tiny', prompt: 'the cat sat on', max_tokens: 30, temperature: 0, stop: [stop]});
    expect(cut.choices[0]!.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('completions', () => {
  it('answers in the text_completion shape, max_tokens bounding the length', async () => {
    const r = await client.completions.create({model: 'tiny', prompt: 'the dog ran', max_tokens: 5, temperature: 0});
    expect(r.object).toBe('text_completion');
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(5);
    if (r.choices[0]!.finish_reason === 'length') expect(r.usage!.completion_tokens).toBe(5);
    // <|bos|> + 11 bytes
    expect(r.usage!.prompt_tokens).toBe(12);
  });

  it('streams text deltas that add up to the non-streamed text', async () => {
    const req = {model: 'tiny', prompt: 'a ball', max_tokens: 10, temperature: 0};
    const full = await client.completions.create(req);
    const stream = await client.completions.create({...req, stream: true});
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(full.choices[0]!.text);
    expect(finish).toBe(full.choices[0]!.finish_reason);
  });
});

describe('models, health, metrics, ledger', () => {
  it('lists the served model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
  });

  it('reports vLLM-named metrics under llmops:', async () => {
    const text = await (await fetch(server.url + '/metrics')).text();
    for (const name of [
      'llmops:time_to_first_token_seconds_bucket',
      'llmops:inter_token_latency_seconds_bucket',
      'llmops:e2e_request_latency_seconds_count',
      'llmops:prompt_tokens_total',
      'llmops:generation_tokens_total',
      'llmops:request_success_total{model_name="tiny",finish_reason=',
      'llmops:num_requests_running',
      'llmops:num_requests_waiting',
    ]) expect(text).toContain(name);
    const gen = Number(/llmops:generation_tokens_total\{model_name="tiny"\} (\d+)/.exec(text)![1]);
    expect(gen).toBeGreaterThan(0);
  });

  it('records every request in the ledger with timings, tokens, status and a prompt profile, but no text by default', async () => {
    await client.chat.completions.create({model: 'tiny', messages: [{role: 'system', content: 'be brief'}, {role: 'user', content: 'Hello Park'}], max_tokens: 4});
    await new Promise((r) => setTimeout(r, 400)); // the recorder flushes every 250 ms
    const rows = ledger.listRequests('d-api');
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const last = rows.at(-1)!;
    expect(last).toMatchObject({deployment_id: 'd-api', model_run_id: 'r-serve-test', endpoint: 'chat', stream: 0, status: 'ok', http_status: 200});
    expect(last.prompt_chars).toBe('be brief\nHello Park'.length);
    expect(JSON.parse(last.profile_json!)).toEqual({len: 19, words: 4, terms: ['be', 'brief', 'hello', 'park']});
    expect(last.ttft_ms).toBeGreaterThan(0);
    expect(last.e2e_ms).toBeGreaterThanOrEqual(last.ttft_ms!);
    expect(last.queue_ms).toBeGreaterThanOrEqual(0);
    expect(last.prompt_text).toBeNull();
    expect(last.completion_text).toBeNull();
    expect(Math.abs(last.ts - Date.now())).toBeLessThan(10_000);
    expect(rows.some((r) => r.stream === 1 && r.itl_ms !== null)).toBe(true);
  });

  it('stores prompt and completion text only with deploy.log_text', async () => {
    const s2 = await startServer({modelDir, modelRunId: null, name: 'txt', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({log_text: true}), ledger, deploymentId: 'd-text'});
    await s2.ready;
    const c = new OpenAI({baseURL: s2.url + '/v1', apiKey: 'unused', maxRetries: 0});
    const r = await c.completions.create({model: 'txt', prompt: 'the park', max_tokens: 6, temperature: 0});
    await s2.close();
    const [row] = ledger.listRequests('d-text');
    expect(row!.prompt_text).toBe('the park');
    expect(row!.completion_text).toBe(r.choices[0]!.text);
  });

  it('appends a serve cost entry at stop priced with deploy.price_per_hour', async () => {
    const s2 = await startServer({modelDir, modelRunId: null, name: 'cost', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({price_per_hour: 3.6}), ledger, deploymentId: 'd-cost'});
    await s2.ready;
    await new Promise((r) => setTimeout(r, 300));
    await s2.close();
    const rows = sqlite(ledger).prepare("SELECT * FROM cost_entries WHERE deployment_id = 'd-cost'").all() as any[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({stage: 'serve', phase: 'serve', price_per_hour: 3.6});
    expect(rows[0].seconds).toBeGreaterThan(0.25);
    expect(rows[0].usd).toBeCloseTo((rows[0].seconds / 3600) * 3.6, 10);
  });
});
