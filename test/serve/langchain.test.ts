/**
 * LangChain's `ChatOpenAI` (@langchain/openai) against a real deployment: `llmops deploy --detach`
 * on the tiny model, through the built CLI, with an API key. Each LangChain answer is compared with
 * the same request sent to the server as plain HTTP, so the test checks what LangChain makes of the
 * server's answers, not our own code against itself.
 */
import path from 'node:path';
import {ChatOpenAI} from '@langchain/openai';
import type {AIMessageChunk} from '@langchain/core/messages';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

const KEY = 'lc-test-key-0123456789';
let dir: string;
let env: Record<string, string>;
let url: string;

beforeAll(async () => {
  const {modelDir} = await tinyModel();
  dir = tempDir();
  env = {LLMOPS_DB: path.join(dir, 'ledger.db'), LC_TEST_KEY: KEY};
  const up = await runCli(['deploy', '--model', modelDir, '--name', 'tiny', '--port', '0', '--api-key-env', 'LC_TEST_KEY', '--detach', '--json'], {cwd: dir, env});
  expect(up.code, up.stderr).toBe(0);
  url = up.json.url;
}, 300_000);

afterAll(async () => {
  if (!url) return;
  const stop = await runCli(['deploy', 'stop', 'tiny', '--json'], {cwd: dir, env});
  expect(stop.code, stop.stderr).toBe(0);
});

const MAX = 8;
const chat = (opts: Record<string, unknown> = {}) =>
  new ChatOpenAI({configuration: {baseURL: url + '/v1'}, apiKey: KEY, model: 'tiny', temperature: 0, maxTokens: MAX, maxRetries: 0, ...opts});

/** The same request as plain HTTP: what the server itself answers. */
async function raw(content: string, extra: Record<string, unknown> = {}): Promise<{text: string; usage: {prompt_tokens: number; completion_tokens: number; total_tokens: number}}> {
  const r = await fetch(url + '/v1/chat/completions', {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: `Bearer ${KEY}`},
    body: JSON.stringify({model: 'tiny', messages: [{role: 'user', content}], temperature: 0, max_tokens: MAX, ...extra}),
  });
  expect(r.status).toBe(200);
  const j = (await r.json()) as any;
  return {text: j.choices[0].message.content, usage: j.usage};
}

describe('LangChain ChatOpenAI against llmops deploy', () => {
  it('invoke returns an AIMessage with the server text and usage_metadata equal to the server usage', async () => {
    const msg = await chat().invoke('say cat');
    const ref = await raw('say cat');
    expect(msg.getType()).toBe('ai');
    expect(typeof msg.content).toBe('string');
    expect(msg.content).toBe(ref.text);
    expect(msg.usage_metadata).toMatchObject({input_tokens: ref.usage.prompt_tokens, output_tokens: ref.usage.completion_tokens, total_tokens: ref.usage.total_tokens});
    expect(ref.usage.completion_tokens).toBeGreaterThan(0);
    expect(msg.response_metadata.model_name ?? msg.response_metadata.model).toBe('tiny');
  });

  it('stream yields chunks whose concatenation equals the greedy invoke answer, with the same usage', async () => {
    const model = chat();
    const full = await model.invoke('say dog');
    let acc: AIMessageChunk | undefined;
    let n = 0;
    for await (const c of await model.stream('say dog')) {
      acc = acc ? acc.concat(c) : c;
      n++;
    }
    expect(n).toBeGreaterThan(1);
    expect(acc!.content).toBe(full.content);
    expect(acc!.usage_metadata).toMatchObject({input_tokens: full.usage_metadata!.input_tokens, output_tokens: full.usage_metadata!.output_tokens, total_tokens: full.usage_metadata!.total_tokens});
  });

  it('batch of 3 prompts answers each as the server does alone', async () => {
    const prompts = ['say park', 'say ball', 'say mat'];
    const out = await chat().batch(prompts);
    expect(out).toHaveLength(3);
    const refs = await Promise.all(prompts.map((p) => raw(p)));
    expect(out.map((m) => m.content)).toEqual(refs.map((r) => r.text));
  });

  it('stop sequences cut the answer where the server cuts it', async () => {
    const long = await raw('say the', {max_tokens: 16});
    expect(long.text.length).toBeGreaterThanOrEqual(3);
    const stop = long.text.slice(1, 3);
    const cut = await chat({maxTokens: 16}).invoke('say the', {stop: [stop]});
    const expected = long.text.slice(0, long.text.indexOf(stop));
    expect(expected.length).toBeLessThan(long.text.length);
    expect(cut.content).toBe(expected);
    expect(cut.content).toBe((await raw('say the', {max_tokens: 16, stop: [stop]})).text);
    expect(cut.response_metadata.finish_reason).toBe('stop');
  });

  it('surfaces the server errors: a wrong model name (404 naming it) and a wrong key (401)', async () => {
    const err = await chat({model: 'no-such-model'}).invoke('hi').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(404);
    expect(err.message).toContain('"no-such-model" does not exist');
    const denied = await chat({apiKey: 'wrong-key'}).invoke('hi').catch((e) => e);
    expect(denied).toBeInstanceOf(Error);
    expect(denied.status).toBe(401);
    expect(denied.message).toContain('API key');
    expect(denied.message).not.toContain(KEY);
  });
});
