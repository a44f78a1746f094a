/** The generation engine on the real exported model: KV-cache batching, sampling, stop handling. */
import {beforeAll, describe, expect, it} from 'vitest';
import {Batch, OnnxModel} from '../../src/lib/serve/engine.js';
import {loadServableModel} from '../../src/lib/serve/model-dir.js';
import type {ModelFolder} from '../../src/lib/model/folder.js';
import {makeRng, sampleToken} from '../../src/lib/serve/sampling.js';
import {Scheduler} from '../../src/lib/serve/scheduler.js';
import {IncrementalDecoder, ModelTokenizer} from '../../src/lib/serve/tokenizer.js';
import {chatPrompt} from '../../src/lib/serve/chat-format.js';
import {tinyModel} from './helpers/model.js';

let spec: ModelFolder;
let model: OnnxModel;
let tok: ModelTokenizer;
const greedy = {temperature: 0, topP: 1, topK: 0};

beforeAll(async () => {
  spec = loadServableModel((await tinyModel()).modelDir);
  model = await OnnxModel.load(spec, 1);
  tok = ModelTokenizer.fromFolder(spec.dir);
});

/** Reference: no cache at all, the whole sequence through the model for every token. */
async function greedyNoCache(prompt: number[], n: number): Promise<number[]> {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const {batch, logits} = await Batch.prefill(model, null, ids);
    void batch;
    let best = 0;
    for (let v = 1; v < spec.vocabSize; v++) if (logits[v]! > logits[best]!) best = v;
    out.push(best);
    ids.push(best);
  }
  return out;
}

describe('KV cache and batching', () => {
  it('decodes with the cache exactly what the model gives without one', async () => {
    const prompt = [spec.bosId!, ...tok.encode('the cat sat')];
    const ref = await greedyNoCache(prompt, 12);
    const {batch, logits} = await Batch.prefill(model, null, prompt);
    const got: number[] = [];
    let l = logits;
    for (let i = 0; i < 12; i++) {
      let best = 0;
      for (let v = 1; v < spec.vocabSize; v++) if (l[v]! > l[best]!) best = v;
      got.push(best);
      batch.rows[0]!.next = best;
      l = await batch.step();
    }
    expect(got).toEqual(ref);
  });

  it('gives each request the same tokens whether it runs alone, interleaved or batched with others of other lengths', async () => {
    const prompts = ['hi', 'the dog ran to the park with a ball', 'a', 'say cat'].map((p) => [spec.bosId!, ...tok.encode(p)]);
    const run = async (mode: 'batch' | 'interleave', maxConcurrent: number) => {
      const s = new Scheduler(model, tok, {maxConcurrent, maxQueue: 16, mode});
      const out = await Promise.all(prompts.map((promptIds, i) => s.submit({promptIds, maxTokens: 10 + 7 * i, sampling: greedy, stop: []})));
      await s.close();
      return out.map((o) => `${o.text}|${o.completionTokens}|${o.finishReason}`);
    };
    const alone = await run('batch', 1);
    expect(await run('interleave', 8)).toEqual(alone);
    expect(await run('batch', 8)).toEqual(alone);
  });

  it('feeds one new token per step whatever the length so far (the cache carries the rest)', async () => {
    const calls: Array<{s: number; past: number}> = [];
    const orig = model.forward.bind(model);
    const spy = Object.create(model) as OnnxModel;
    spy.forward = (input) => {
      calls.push({s: input.s, past: input.pastLen});
      return orig(input);
    };
    const prompt = [spec.bosId!, ...tok.encode('hello there')];
    const {batch} = await Batch.prefill(spy, null, prompt);
    batch.rows[0]!.next = 65;
    for (let i = 0; i < 30; i++) await batch.step();
    expect(calls[0]).toEqual({s: prompt.length, past: 0});
    expect(calls.slice(1)).toEqual(Array.from({length: 30}, (_, i) => ({s: 1, past: prompt.length + i})));
  });
});

describe('sampling', () => {
  it('is deterministic for a seed and varies across seeds', () => {
    const logits = Float32Array.from({length: 50}, (_, i) => Math.sin(i) * 2);
    const draw = (seed: number) => {
      const r = makeRng(seed);
      return Array.from({length: 20}, () => sampleToken(logits, 0, 50, {temperature: 1, topP: 1, topK: 0}, r));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('top_k 1 and temperature 0 are greedy; top_k and top_p restrict the choice', () => {
    const logits = Float32Array.from([0, 5, 1, 4.9, -3]);
    const r = makeRng(1);
    for (let i = 0; i < 50; i++) {
      expect(sampleToken(logits, 0, 5, {temperature: 1, topP: 1, topK: 1}, r)).toBe(1);
      expect(sampleToken(logits, 0, 5, {temperature: 0, topP: 1, topK: 0}, r)).toBe(1);
      expect([1, 3]).toContain(sampleToken(logits, 0, 5, {temperature: 1, topP: 1, topK: 2}, r));
      expect([1, 3]).toContain(sampleToken(logits, 0, 5, {temperature: 1, topP: 0.9, topK: 0}, r));
    }
  });
});

describe('text', () => {
  it("renders chats with the exported model's own Jinja template (same text as its training format)", () => {
    expect(chatPrompt(spec, [{role: 'system', content: 'S'}, {role: 'user', content: 'U $& {content}'}])).toBe(
      '<|system|>\nS<|end|>\n<|user|>\nU $& {content}<|end|>\n<|assistant|>\n',
    );
  });

  it('streams multi-byte characters whole, never a broken half', () => {
    const ids = tok.encode('é€😀 ok');
    const d = new IncrementalDecoder(tok);
    const pieces = ids.map((id) => d.push(id));
    expect(pieces.join('') + d.flush()).toBe('é€😀 ok');
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
  });

  it('finds a stop string split across tokens and never streams its first half', async () => {
    const s = new Scheduler(model, tok, {maxConcurrent: 1, maxQueue: 4, mode: 'batch'});
    const promptIds = [spec.bosId!, ...tok.encode('the cat')];
    const free = await s.submit({promptIds, maxTokens: 40, sampling: greedy, stop: []});
    const stop = free.text.slice(3, 6);
    const deltas: string[] = [];
    const cut = await s.submit({promptIds, maxTokens: 40, sampling: greedy, stop: ['zzz-never', stop], onDelta: (t) => deltas.push(t)});
    await s.close();
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(deltas.join('')).toBe(cut.text);
    expect(cut.finishReason).toBe('stop');
  });
});
