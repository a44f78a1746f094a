/**
 * Streaming text from real tokenizers: SentencePiece '▁' spaces and byte fallback (Phi-3/Llama 2),
 * byte-level BPE (GPT-2). The reference is transformers.js decoding the whole sequence at once.
 */
import {describe, expect, it} from 'vitest';
import {ModelTokenizer} from '../../src/lib/model/tokenizer.js';
import {Sequence} from '../../src/lib/serve/sequence.js';
import {IncrementalDecoder} from '../../src/lib/serve/tokenizer.js';
import {fixtureFolder, referenceTokenizer} from '../model/fixtures.js';

const PROMPT = 'Question: say something.\nAnswer:';
const COMPLETIONS = [' Hello world, how are you?', ' 日本語のテキスト and ünïcödé 🦙🚀!', '\n\n  indented   spaces\tand tabs', ' a€b😀c', ' <|endoftext|> after'];

/** Each completion's ids after the prompt (transformers.js's encoding) and the text transformers.js decodes them to. */
async function completions(name: 'phi3' | 'gpt2') {
  const dir = fixtureFolder(name);
  const tok = ModelTokenizer.fromFolder(dir);
  const ref = await referenceTokenizer(dir);
  const promptIds = tok.encode(PROMPT, {addSpecialTokens: true});
  const promptText = ref.decode(promptIds, {skip_special_tokens: true});
  const cases = COMPLETIONS.map((completion) => {
    const ids = ref.encode(PROMPT + completion, {add_special_tokens: true}).slice(promptIds.length);
    return {completion, ids, expected: ref.decode([...promptIds, ...ids], {skip_special_tokens: true}).slice(promptText.length)};
  });
  return {tok, promptIds, cases};
}

describe('IncrementalDecoder on real tokenizers, against transformers.js decoding the whole text', () => {
  for (const name of ['phi3', 'gpt2'] as const) {
    it(`${name}: the streamed deltas join to exactly the completion's text, with no broken characters`, async () => {
      const {tok, promptIds, cases} = await completions(name);
      for (const {completion, ids, expected} of cases) {
        const d = new IncrementalDecoder(tok, promptIds);
        const deltas = ids.map((id) => d.push(id));
        deltas.push(d.flush());
        expect(deltas.join(''), JSON.stringify(completion)).toBe(expected);
        expect(deltas.some((p) => p.includes('\uFFFD'))).toBe(false);
      }
      // Byte fallback really is exercised: the llama is several tokens of bytes in Phi-3's vocabulary.
      if (name === 'phi3') expect(tok.encode('🦙').length).toBeGreaterThan(1);
    });

    it(`${name}: tokens decoded a window at a time (deferred, as a stream does between writes) give the same text`, async () => {
      const {tok, promptIds, cases} = await completions(name);
      for (const {completion, ids, expected} of cases) {
        // Windows of 1, 2, 3 and 5 tokens: a window may end inside a character (the llama's bytes).
        for (const every of [1, 2, 3, 5]) {
          const d = new IncrementalDecoder(tok, promptIds);
          const deltas: string[] = [];
          ids.forEach((id, i) => {
            d.append(id);
            if ((i + 1) % every === 0) deltas.push(d.drain());
          });
          deltas.push(d.flush());
          expect(deltas.join(''), `${JSON.stringify(completion)} every ${every}`).toBe(expected);
          expect(deltas.some((p) => p.includes('\uFFFD'))).toBe(false);
        }
      }
    });
  }

  it('a stream decoding at an interval sends fewer, longer deltas that join to the same text, ending with the last token', () => {
    const tok = ModelTokenizer.fromFolder(fixtureFolder('phi3'));
    const promptIds = tok.encode(PROMPT, {addSpecialTokens: true});
    const ids = tok.encode(PROMPT + COMPLETIONS[1]!).slice(promptIds.length);
    const vocab = 32064;
    const run = (decodeIntervalMs: number) => {
      const deltas: string[] = [];
      const seq = new Sequence({promptIds, maxTokens: 1000, sampling: {temperature: 0, topP: 1, topK: 0}, stop: [], decodeIntervalMs, onDelta: (t) => deltas.push(t)}, tok, new Set([32000]));
      for (const id of [...ids, 32000]) {
        const logits = new Float32Array(vocab);
        logits[id] = 1;
        if (seq.accept(logits, 0, vocab) < 0) break;
      }
      expect(seq.finished).toBe('stop');
      return deltas;
    };
    const each = run(0);
    // An interval no test run reaches: the first token's text goes at once, the rest when the stream ends.
    const deferred = run(60_000);
    expect(deferred.join('')).toBe(each.join(''));
    expect(each.length).toBeGreaterThan(5);
    expect(deferred).toHaveLength(2);
  });

  it('phi3: a stop string spanning tokens ends the stream before it, never sending its first half', () => {
    const tok = ModelTokenizer.fromFolder(fixtureFolder('phi3'));
    const promptIds = tok.encode(PROMPT, {addSpecialTokens: true});
    const ids = tok.encode(PROMPT + ' Hello world, and more').slice(promptIds.length - 1);
    const vocab = 32064;
    const deltas: string[] = [];
    const seq = new Sequence({promptIds, maxTokens: 50, sampling: {temperature: 0, topP: 1, topK: 0}, stop: ['lo wor'], onDelta: (t) => deltas.push(t)}, tok, new Set([32000]));
    for (const id of ids) {
      const logits = new Float32Array(vocab);
      logits[id] = 1;
      if (seq.accept(logits, 0, vocab) < 0) break;
    }
    expect(seq.finished).toBe('stop');
    expect(deltas.join('')).toBe(' Hel');
  });
});
