/**
 * Log-probabilities with `stream: true`, as the `openai` client reads them from a real deployment
 * (`llmops deploy --detach` on the tiny model, through the built CLI): each chunk carries the
 * logprobs of the tokens whose text it brings, in OpenAI's shapes (legacy `{tokens, token_logprobs,
 * top_logprobs, text_offset}` for completions, `logprobs.content[]` for chat). Concatenated over the
 * stream they equal the non-streamed answer to the same greedy request, token for token, and the
 * token strings concatenate to the streamed text.
 */
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

let dir: string;
let env: Record<string, string>;
let client: OpenAI;
let up = false;

beforeAll(async () => {
  const {modelDir} = await tinyModel();
  dir = tempDir();
  env = {LLMOPS_DB: path.join(dir, 'ledger.db')};
  const r = await runCli(['deploy', '--model', modelDir, '--name', 'tiny', '--port', '0', '--detach', '--json'], {cwd: dir, env});
  expect(r.code, r.stderr).toBe(0);
  up = true;
  client = new OpenAI({baseURL: r.json.url + '/v1', apiKey: 'unused', maxRetries: 0});
}, 300_000);

afterAll(async () => {
  if (!up) return;
  const stop = await runCli(['deploy', 'stop', 'tiny', '--json'], {cwd: dir, env});
  expect(stop.code, stop.stderr).toBe(0);
});

const TOL = 1e-5;
const close = (a: Array<number | null>, b: Array<number | null>) => {
  expect(a).toHaveLength(b.length);
  a.forEach((v, i) => expect(Math.abs(v! - b[i]!), `token ${i}`).toBeLessThan(TOL));
};

interface Legacy {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
}

async function completions(body: {prompt: string; logprobs: number; max_tokens: number; stop?: string[]}) {
  const full = await client.completions.create({model: 'tiny', temperature: 0, ...body});
  const stream = await client.completions.create({model: 'tiny', temperature: 0, ...body, stream: true});
  let text = '';
  let chunks = 0;
  let finish: string | null = null;
  const got: Legacy = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []};
  for await (const c of stream) {
    const ch = c.choices[0]!;
    text += ch.text;
    finish = ch.finish_reason ?? finish;
    if (ch.finish_reason) expect(ch.logprobs).toBeNull();
    if (!ch.logprobs) continue;
    chunks++;
    const lp = ch.logprobs as Legacy;
    // One chunk's object is self-consistent: its tokens' text is the chunk's text.
    expect(lp.tokens.join('')).toBe(ch.text);
    for (const k of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset'] as const) (got[k] as unknown[]).push(...lp[k]);
  }
  return {full: full.choices[0]!, text, chunks, finish, got};
}

describe('/v1/completions: logprobs with stream', () => {
  it('chunks concatenate to the non-streamed logprobs of the same greedy request, token for token', async () => {
    const {full, text, chunks, finish, got} = await completions({prompt: 'the dog', logprobs: 3, max_tokens: 12});
    const ref = full.logprobs as Legacy;
    expect(text).toBe(full.text);
    expect(finish).toBe(full.finish_reason);
    expect(chunks).toBeGreaterThan(1);
    expect(got.tokens).toEqual(ref.tokens);
    expect(got.tokens.join('')).toBe(text);
    expect(got.text_offset).toEqual(ref.text_offset);
    close(got.token_logprobs, ref.token_logprobs);
    got.top_logprobs.forEach((top, i) => {
      expect(Object.keys(top!)).toEqual(Object.keys(ref.top_logprobs[i]!));
      expect(Object.keys(top!)).toHaveLength(3);
      close(Object.values(top!), Object.values(ref.top_logprobs[i]!));
    });
  });

  it('with a stop string (text held back, then cut) the streamed tokens are still those of the answer', async () => {
    const plain = await client.completions.create({model: 'tiny', prompt: 'the cat', max_tokens: 16, temperature: 0});
    const stopAt = plain.choices[0]!.text.slice(4, 6);
    expect(stopAt.length).toBe(2);
    const {full, text, got} = await completions({prompt: 'the cat', logprobs: 1, max_tokens: 16, stop: [stopAt]});
    const ref = full.logprobs as Legacy;
    expect(text).toBe(full.text);
    expect(full.finish_reason).toBe('stop');
    expect(text.includes(stopAt)).toBe(false);
    expect(got.tokens).toEqual(ref.tokens);
    expect(got.tokens.join('')).toBe(text);
    expect(got.text_offset).toEqual(ref.text_offset);
    close(got.token_logprobs, ref.token_logprobs);
  });

  it('echo with stream is still refused, naming the field', async () => {
    await expect(client.completions.create({model: 'tiny', prompt: 'hi', logprobs: 1, echo: true, stream: true})).rejects.toMatchObject({status: 400, param: 'stream'});
  });
});

describe('/v1/chat/completions: logprobs with stream', () => {
  it('chunks carry logprobs.content entries that concatenate to the non-streamed ones', async () => {
    const body = {model: 'tiny', messages: [{role: 'user' as const, content: 'say cat'}], logprobs: true, top_logprobs: 2, max_tokens: 10, temperature: 0};
    const full = await client.chat.completions.create(body);
    const ref = full.choices[0]!.logprobs!.content!;
    let text = '';
    let chunks = 0;
    const got: typeof ref = [];
    for await (const c of await client.chat.completions.create({...body, stream: true})) {
      const ch = c.choices[0]!;
      text += ch.delta.content ?? '';
      if (!ch.logprobs) continue;
      chunks++;
      expect(ch.logprobs.content!.map((t) => t.token).join('')).toBe(ch.delta.content);
      got.push(...ch.logprobs.content!);
    }
    expect(text).toBe(full.choices[0]!.message.content);
    expect(chunks).toBeGreaterThan(1);
    expect(got.map((t) => t.token)).toEqual(ref.map((t) => t.token));
    expect(got.map((t) => t.token).join('')).toBe(text);
    close(got.map((t) => t.logprob), ref.map((t) => t.logprob));
    got.forEach((t, i) => {
      expect(t.bytes).toEqual([...Buffer.from(t.token)]);
      expect(t.top_logprobs.map((x) => x.token)).toEqual(ref[i]!.top_logprobs.map((x) => x.token));
      expect(t.top_logprobs).toHaveLength(2);
      close(t.top_logprobs.map((x) => x.logprob), ref[i]!.top_logprobs.map((x) => x.logprob));
    });
  });
});
