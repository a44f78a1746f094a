/**
 * `llmops train --tokenizer DIR`: a Llama-architecture model from scratch with a Hugging Face
 * tokenizer, through the real CLI. The data is tokenized in Node; the export is the onnx-community
 * layout, which transformers.js loads with the logits of our torch forward.
 */
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {makeProject} from '../runtime/helpers.js';
import {makeTokenizerDir, maxAbsDiff, torchReference, transformersJs} from './hf-helpers.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

describe('llmops train --tokenizer DIR (a Llama-architecture model from scratch)', () => {
  it('trains with grouped-query attention, loss falls, and the export loads in transformers.js with our torch logits', {timeout: 300_000}, async () => {
    const project = makeProject();
    const tok = makeTokenizerDir(project.dir);
    const r = await runCli(['train', '--tokenizer', tok, '--max-steps', '30', '--set', 'n_kv_head=1', '--set', 'warmup_steps=3',
      '--set', 'lr=0.01', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    const model = r.json.modelDir as string;
    const events = readFileSync(path.join(r.json.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const losses = events.filter((e) => e.type === 'metric' && 'loss' in e.values).map((e) => e.values.loss as number);
    console.log(`train llama: loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}`);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 1);

    expect(readJson(path.join(model, 'config.json'))).toMatchObject({model_type: 'llama', hidden_size: 32, num_hidden_layers: 1,
      num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32, vocab_size: 263, tie_word_embeddings: true});
    expect(existsSync(path.join(model, 'onnx', 'model.onnx'))).toBe(true);
    expect(readJson(path.join(model, 'tokenizer_config.json')).chat_template).toContain('<|end|>');

    const js = await transformersJs(model, 'the cat sat on', 'fp32', 6);
    const ours = torchReference(model, js.ids, 6);
    const diff = maxAbsDiff(js.logits, ours.logits);
    console.log(`train llama: max |transformers.js - torch| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
    expect(js.greedy).toEqual(ours.greedy.slice(0, js.greedy.length));
  });
});
