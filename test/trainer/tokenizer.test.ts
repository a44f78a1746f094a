import {readFileSync} from 'node:fs';
import path from 'node:path';
import {Tokenizer} from '@huggingface/tokenizers';
import {describe, expect, it} from 'vitest';
import {python, tempDir} from './helpers.js';

const STRINGS = [
  'Hello, world!',
  '  leading spaces and\ttabs\nnewlines  ',
  'Grüße aus Köln — naïve café',
  '世界 こんにちは 🌍🚀 emoji',
  '<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>\n',
  '<|bos|>text with <|eos|> inside and a fake <|nope|> token',
  '',
];

describe('byte tokenizer: tokenizer.json read by @huggingface/tokenizers encodes like the trainer', () => {
  it('gives the same ids as Python for ASCII, UTF-8 and special tokens, and decodes back', async () => {
    const dir = tempDir('llmops-trainer-tok-');
    const file = path.join(dir, 'tokenizer.json');
    const py = await python(`
import json
from tokenizer import ByteTokenizer
t = ByteTokenizer()
t.save(${JSON.stringify(file)})
json.dump({"config": t.tokenizer_config(128), "ids": [t.encode(s) for s in json.loads(${JSON.stringify(JSON.stringify(STRINGS))})]}, open(${JSON.stringify(path.join(dir, 'cfg.json'))}, "w"))
print(json.dumps({"vocab_size": t.vocab_size}))
`);
    expect(py.vocab_size).toBe(263);
    const {config, ids} = JSON.parse(readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
    const tok = new Tokenizer(JSON.parse(readFileSync(file, 'utf8')), config);
    STRINGS.forEach((s, i) => {
      const js = tok.encode(s, {add_special_tokens: false}).ids;
      expect(js, JSON.stringify(s)).toEqual(ids[i]);
      // (tokenizers.js refuses to decode an empty id list, hence the guard)
      if (js.length > 0) expect(tok.decode(js, {skip_special_tokens: false})).toBe(s);
    });
    // Multi-byte characters really are split into bytes (not one id per character).
    expect(ids[3].length).toBe(Buffer.byteLength(STRINGS[3]!, 'utf8'));
    // Special tokens get their own ids 256+, unknown "<|nope|>" stays bytes.
    expect(ids[4][0]).toBe(256 + 4);
    expect(ids[5].filter((x: number) => x >= 256)).toEqual([256, 257]);
  });

  it('rejects a tokenizer.json that is not the byte tokenizer with a message naming the file', async () => {
    const dir = tempDir('llmops-trainer-tok-');
    const bad = path.join(dir, 'other.json');
    const r = await python(`
import json
json.dump({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}, open(${JSON.stringify(bad)}, "w"))
from tokenizer import load_tokenizer
try:
    load_tokenizer(${JSON.stringify(bad)})
    print(json.dumps({"error": None}))
except ValueError as e:
    print(json.dumps({"error": str(e)}))
`);
    expect(r.error).toContain(bad);
    expect(r.error).toContain('Try this');
  });
});
