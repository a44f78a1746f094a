import {describe, expect, it} from 'vitest';
import {ModelTokenizer} from '../../src/lib/model/tokenizer.js';
import {fixtureFolder, referenceTokenizer} from './fixtures.js';

const TEXTS = [
  'Hello world',
  ' leading space and  two  spaces',
  'Tabs\tand\nnew lines\n\n',
  'Unicode: café, naïve, 日本語, emoji 🦙🚀 and ünïcödé',
  'code: def f(x):\n    return x ** 2  # comment',
  '<|endoftext|> in the middle <|endoftext|>',
  '',
];

describe('ModelTokenizer on real tokenizers, against transformers.js', () => {
  for (const name of ['gpt2', 'phi3'] as const) {
    it(`${name}: encode and decode give the same ids and text as transformers.js`, async () => {
      const dir = fixtureFolder(name);
      const ours = ModelTokenizer.fromFolder(dir);
      const ref = await referenceTokenizer(dir);
      for (const text of TEXTS) {
        const refPlain = ref.encode(text, {add_special_tokens: false});
        const refSpecial = ref.encode(text, {add_special_tokens: true});
        expect(ours.encode(text), `plain: ${JSON.stringify(text)}`).toEqual(refPlain);
        expect(ours.encode(text, {addSpecialTokens: true}), `special: ${JSON.stringify(text)}`).toEqual(refSpecial);
        if (refSpecial.length === 0) continue;
        expect(ours.decode(refSpecial)).toBe(ref.decode(refSpecial));
        expect(ours.decode(refSpecial, {skipSpecialTokens: true})).toBe(ref.decode(refSpecial, {skip_special_tokens: true}));
      }
    });
  }

  it('phi3 (SentencePiece with byte fallback): BOS <s> only when special tokens are asked for, never twice', () => {
    const tok = ModelTokenizer.fromFolder(fixtureFolder('phi3'));
    expect(tok.bosId).toBe(1);
    expect(tok.addBos).toBe(true);
    expect(tok.encode('Hi')[0]).not.toBe(1);
    expect(tok.encode('Hi', {addSpecialTokens: true})[0]).toBe(1);
    expect(tok.encode('<s>Hi', {addSpecialTokens: true}).filter((i) => i === 1)).toHaveLength(1);
    // A character outside the vocabulary is spelled with byte tokens <0x..> and decodes back.
    const ids = tok.encode('🦙');
    expect(ids.length).toBeGreaterThan(1);
    expect(tok.decode(ids)).toBe('🦙');
  });

  it('gpt2: no BOS is added (add_bos_token unset, byte-level post-processor); EOS is <|endoftext|>', () => {
    const tok = ModelTokenizer.fromFolder(fixtureFolder('gpt2'));
    expect(tok.addBos).toBe(false);
    expect(tok.eosIds).toEqual([50256]);
    expect(tok.encode('Hello', {addSpecialTokens: true})).toEqual(tok.encode('Hello'));
  });

  it('a damaged tokenizer.json is an input error naming the file', () => {
    const dir = fixtureFolder('gpt2');
    expect(() => ModelTokenizer.fromFolder(dir + '-missing')).toThrow(/tokenizer\.json/);
  });
});
