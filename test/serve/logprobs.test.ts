/**
 * lm-evaluation-harness's protocol and logprobs, as the `openai` client sees them: echo + logprobs
 * + max_tokens 0 scores the prompt in OpenAI's legacy shape; generated tokens carry logprobs on
 * both endpoints. Prompt scores are checked against the eval scorer (itself checked against
 * transformers.js in test/eval/transformers-js.test.ts).
 */
import OpenAI from 'openai';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {deploySchema} from '../../src/lib/config/schema.js';
import {Scorer} from '../../src/lib/eval/scorer.js';
import {OnnxModel} from '../../src/lib/serve/engine.js';
import {loadServableModel} from '../../src/lib/serve/model-dir.js';
import {startServer, type RunningServer} from '../../src/lib/serve/server.js';
import {ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';

let server: RunningServer;
let client: OpenAI;
let ledger: Ledger;
let scorer: Scorer;
let onnx: OnnxModel;

beforeAll(async () => {
  const {modelDir} = await tinyModel();
  ledger = Ledger.open(path.join(tempDir(), 'ledger.db'));
  server = await startServer({modelDir, modelRunId: 'r-serve-test', name: 'tiny', host: '127.0.0.1', port: 0, deploy: deploySchema.parse({}), ledger, deploymentId: 'd-lp'});
  await server.ready;
  client = new OpenAI({baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0});
  const spec = loadServableModel(modelDir);
  onnx = await OnnxModel.load(spec, 1);
  scorer = new Scorer(onnx, ModelTokenizer.fromFolder(spec.dir));
}, 300_000);

afterAll(async () => {
  await server?.close();
  await onnx?.close();
  ledger?.close();
});

const BOS = 256;

describe('/v1/completions with echo and logprobs (lm-evaluation-harness)', () => {
  it('max_tokens 0 returns the prompt\'s tokens, token_logprobs (first null), top_logprobs and text_offset, equal to the scorer\'s', async () => {
    const prompt = 'the cat sat';
    const r = await client.completions.create({model: 'tiny', prompt, echo: true, logprobs: 3, max_tokens: 0, temperature: 0});
    const c = r.choices[0]!;
    expect(c.text).toBe(prompt);
    const lp = c.logprobs!;
    expect(lp.tokens).toEqual(['<|bos|>', ...prompt.split('')]);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    expect(lp.text_offset).toEqual([0, ...prompt.split('').map((_, i) => i)]);
    expect(r.usage).toMatchObject({prompt_tokens: 12, completion_tokens: 0});
    const [ref] = await scorer.loglikelihood([['', prompt]]);
    const sum = (lp.token_logprobs!.slice(1) as number[]).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - ref!.ll)).toBeLessThan(1e-4);
    for (const [i, top] of lp.top_logprobs!.slice(1).entries()) {
      const vals = Object.values(top!);
      expect(vals).toHaveLength(3);
      expect(vals[0]).toBeGreaterThanOrEqual(lp.token_logprobs![i + 1]! - 1e-6);
      expect([...vals].sort((a, b) => b - a)).toEqual(vals);
      expect(vals.reduce((a, v) => a + Math.exp(v), 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
    // is_greedy as the harness computes it: every token's logprob is the max of its top_logprobs.
    const greedy = lp.token_logprobs!.slice(1).every((t, i) => Math.abs(t! - Math.max(...Object.values(lp.top_logprobs![i + 1]!))) < 1e-6);
    expect(greedy).toBe(ref!.greedy);
  });

  it('takes a prompt of token ids as the harness sends it, and adds the generated token after the prompt\'s', async () => {
    const ids = [BOS, 116, 104, 101];
    const r = await client.completions.create({model: 'tiny', prompt: [ids], echo: true, logprobs: 1, max_tokens: 1, temperature: 0});
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens!.slice(0, 4)).toEqual(['<|bos|>', 't', 'h', 'e']);
    expect(r.choices[0]!.text.startsWith('the')).toBe(true);
    expect(lp.token_logprobs!.length).toBe(4 + r.usage!.completion_tokens - (r.choices[0]!.finish_reason === 'stop' ? 1 : 0));
    const [ref] = await scorer.score([{ids, from: 1}]);
    lp.token_logprobs!.slice(1, 4).forEach((v, i) => expect(Math.abs(v! - ref!.logprobs[i]!)).toBeLessThan(1e-4));
  });
});

describe('logprobs of generated tokens', () => {
  it('completions: one entry per generated token, greedy picks the top one, tokens join to the text', async () => {
    const r = await client.completions.create({model: 'tiny', prompt: 'the dog', logprobs: 2, max_tokens: 6, temperature: 0});
    const c = r.choices[0]!;
    const lp = c.logprobs!;
    expect(lp.tokens!.join('')).toBe(c.text);
    expect(lp.text_offset![0]).toBe(0);
    lp.token_logprobs!.forEach((t, i) => {
      const top = Object.values(lp.top_logprobs![i]!);
      expect(top).toHaveLength(2);
      expect(Math.abs(t! - top[0]!)).toBeLessThan(1e-6);
    });
  });

  it('chat: logprobs.content with token, logprob, bytes and top_logprobs', async () => {
    const r = await client.chat.completions.create({model: 'tiny', messages: [{role: 'user', content: 'say cat'}], logprobs: true, top_logprobs: 2, max_tokens: 6, temperature: 0});
    const c = r.choices[0]!;
    const content = c.logprobs!.content!;
    expect(content.map((t) => t.token).join('')).toBe(c.message.content);
    for (const t of content) {
      expect(t.bytes).toEqual([...Buffer.from(t.token)]);
      expect(t.top_logprobs).toHaveLength(2);
      expect(Math.abs(t.logprob - t.top_logprobs[0]!.logprob)).toBeLessThan(1e-6);
    }
  });

  it('refuses top_logprobs without logprobs, and echo with stream, naming the field', async () => {
    await expect(client.chat.completions.create({model: 'tiny', messages: [{role: 'user', content: 'hi'}], top_logprobs: 2})).rejects.toMatchObject({status: 400, param: 'top_logprobs'});
    await expect(client.completions.create({model: 'tiny', prompt: 'hi', echo: true, stream: true})).rejects.toMatchObject({status: 400, param: 'stream'});
  });
});
