/**
 * The finetune path with real tokenizers and chat templates (the fixtures of test/fixtures/models):
 * a SentencePiece tokenizer (Phi-3's, byte fallback) with the Mistral template ([INST] ... [/INST]
 * reply</s>) on a tiny random Llama, and GPT-2's byte-level BPE with ChatML tokens added on a tiny
 * random GPT-2 (LoRA through the transposed Conv1D projections). Through the real CLI; the export is
 * checked against transformers.js.
 */
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {ModelTokenizer} from '../../src/lib/model/index.js';
import {runCli} from '../helpers/cli.js';
import {TEMPLATES, fixtureFolder} from '../model/fixtures.js';
import {makeProject} from '../runtime/helpers.js';
import {TINY, exportRandom, maxAbsDiff, torchReference, transformersJs} from './hf-helpers.js';

const readJsonl = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const CASES = [
  {name: 'llama + phi3 sentencepiece + mistral template', config: {...TINY.llama, initializer_range: 0.05}, end: '</s>',
    tok: () => fixtureFolder('phi3', {tokenizerConfig: {chat_template: TEMPLATES.mistral, bos_token: '<s>', eos_token: '</s>'}})},
  {name: 'gpt2 + gpt2 byte-level BPE + ChatML', config: {...TINY.gpt2, initializer_range: 0.05}, end: '<|im_end|>',
    tok: () => fixtureFolder('gpt2', {addTokens: ['<|im_start|>', '<|im_end|>'], tokenizerConfig: {chat_template: TEMPLATES.smollm2.replace(/\{% if loop.first[\s\S]*?\{% endif %\}/, ''), eos_token: '<|im_end|>'}})},
];

describe('llmops finetune with real tokenizers and chat templates', () => {
  for (const c of CASES) {
    it(`${c.name}: the loss mask covers the reply and its end marker; the LoRA export matches transformers.js`, {timeout: 300_000}, async () => {
      const project = makeProject({chat: true});
      const base = exportRandom(project.dir, 'base', c.config, c.tok());
      const r = await runCli(['finetune', '--base', base, '--method', 'lora', '--max-steps', '4', '--set', 'context=96', '--set', 'batch_size=2', '--json'],
        {cwd: project.dir});
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const rows = readJsonl(path.join(r.json.runDir, 'tokens', 'train.jsonl'));
      const data = readJsonl(path.join(project.dir, 'data', 'prepared', 'train.jsonl'));
      const tok = ModelTokenizer.fromFolder(base);
      const learnt = tok.decode(rows[0].ids.filter((_: number, i: number) => rows[0].mask[i] === 1));
      expect(learnt.trim()).toBe(`${data[0].messages[1].content}${c.end}`.trim());

      const js = await transformersJs(r.json.modelDir, 'the cat sat on the mat', 'fp32', 5);
      const ours = torchReference(r.json.modelDir, js.ids, 5);
      const diff = maxAbsDiff(js.logits, ours.logits);
      console.log(`${c.name}: max |transformers.js - torch| = ${diff.toExponential(2)} (vocab ${ours.logits[0]!.length})`);
      expect(diff).toBeLessThan(1e-4);
      expect(js.greedy).toEqual(ours.greedy.slice(0, js.greedy.length));
    });
  }
});
