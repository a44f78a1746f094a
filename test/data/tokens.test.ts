/**
 * Token counts with the model's own tokenizer and chat template (src/lib/model), checked against
 * transformers.js on the same folder (the independent reference), and the context policies.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {prepareData} from '../../src/lib/data/pipeline.js';
import {tempDir} from '../helpers/cli.js';
import {fixtureFolder, referenceTokenizer, TEMPLATES} from '../model/fixtures.js';

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const chats = Array.from({length: 6}, (_, i) => ({
  conversations: [
    {from: 'human', value: `Question ${i}: what is ${i} squared?`},
    {from: 'gpt', value: `It is ${i * i}.`},
    {from: 'human', value: `And ${i} cubed, with a long explanation ${'of the arithmetic '.repeat(i * 4)}?`},
    {from: 'gpt', value: `It is ${i * i * i}, because ${'we multiply once more '.repeat(i * 4)}.`},
  ],
}));

function project(): string {
  const dir = tempDir('llmops-tokens-');
  mkdirSync(dir, {recursive: true});
  writeFileSync(path.join(dir, 'c.jsonl'), chats.map((c) => JSON.stringify(c)).join('\n') + '\n');
  writeFileSync(path.join(dir, 't.jsonl'), JSON.stringify({text: 'A plain text record about the harbor in winter.'}) + '\n');
  return dir;
}
const cfg = (d: Record<string, unknown>) => configSchema.parse({data: {inputs: ['c.jsonl', 't.jsonl'], split: {train: 1, val: 0, test: 0}, ...d}}).data;

describe('token counts with the model tokenizer and chat template', () => {
  it('counts chats on their rendered template and texts as the model encodes them, equal to transformers.js; the manifest names the tokenizer and its hash', async () => {
    const model = fixtureFolder('gpt2', {tokenizerConfig: {chat_template: TEMPLATES.smollm2}});
    const dir = project();
    const r = await prepareData({root: dir, config: cfg({out: 'o', tokenizer: model}), cacheDir: '.c', workers: 1});
    const ref = await referenceTokenizer(model);
    const train = lines(path.join(dir, 'o', 'train.jsonl'));
    let want = 0;
    for (const rec of train) {
      want += 'text' in rec
        ? ref.encode(rec.text).length
        : (ref.apply_chat_template(rec.messages, {tokenize: true, add_generation_prompt: false, return_tensor: false, return_dict: false}) as number[]).length;
    }
    expect(r.tokens.total).toBe(want);
    expect(r.tokens.tokenizer).toBe(model);
    const m = JSON.parse(readFileSync(path.join(dir, 'o', 'manifest.json'), 'utf8'));
    expect(m.params.tokenizer.name).toBe(model);
    expect(m.params.tokenizer.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('context_policy: keep counts and warns, drop rejects with the count, truncate cuts chats at a turn boundary', async () => {
    const model = fixtureFolder('gpt2', {tokenizerConfig: {chat_template: TEMPLATES.smollm2}});
    const dir = project();
    const keep = await prepareData({root: dir, config: cfg({out: 'k', tokenizer: model, context_length: 80}), cacheDir: '.c', workers: 0});
    expect(keep.tokens.over_context).toBeGreaterThan(0);
    expect(keep.warnings.some((w) => w.includes('longer than data.context_length 80'))).toBe(true);
    const drop = await prepareData({root: dir, config: cfg({out: 'd', tokenizer: model, context_length: 80, context_policy: 'drop'}), cacheDir: '.c', workers: 0});
    expect(drop.rejected_by_reason['tokens:over_context']).toBe(keep.tokens.over_context);
    expect(lines(path.join(dir, 'd', 'rejected.jsonl'))[0]).toMatchObject({stage: 'tokens', rule: 'over_context', limit: 80});
    const cut = await prepareData({root: dir, config: cfg({out: 't', tokenizer: model, context_length: 80, context_policy: 'truncate'}), cacheDir: '.c', workers: 0});
    expect(cut.tokens.over_context).toBe(0);
    expect(cut.tokens.max).toBeLessThanOrEqual(80);
    const cutChats = lines(path.join(dir, 't', 'train.jsonl')).filter((x) => 'messages' in x);
    expect(cutChats).toHaveLength(6);
    for (const c of cutChats) expect(c.messages.at(-1).role).toBe('assistant');
    expect(cutChats.some((c) => c.messages.length === 2)).toBe(true);
  });
});
