import {mkdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {checkParity} from '../../src/lib/runtime/parity.js';
import {losses, makeSpec, python, runTrainer, tempDir, textRecords, writeJsonl} from './helpers.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

/** Conversations whose user turns are noise; the reply is `reply(i)`. */
function conversations(n: number, seed: number, reply: (i: number) => string) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const noise = () => Array.from({length: 16}, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
  return Array.from({length: n}, (_, i) => ({
    id: `c${i}`,
    messages: [
      {role: 'system', content: 'Be brief.'},
      {role: 'user', content: noise()},
      {role: 'assistant', content: reply(i)},
    ],
  }));
}

function dataset(root: string, name: string, train: unknown[], val: unknown[]): string {
  const dir = path.join(root, name);
  mkdirSync(dir, {recursive: true});
  writeJsonl(path.join(dir, 'train.jsonl'), train);
  writeJsonl(path.join(dir, 'val.jsonl'), val);
  return dir;
}

const WORDS = ['the', 'cat', 'dog', 'sat', 'on', 'a', 'mat', 'ran', 'to', 'park'];

describe('trainer: fine-tuning', () => {
  it('the finetune loss covers only assistant replies (content and <|end|>)', async () => {
    const r = await python(`
import json
from data import render
from tokenizer import ByteTokenizer
t = ByteTokenizer()
rec = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "yo"}, {"role": "user", "content": "again"},
                    {"role": "assistant", "content": "ok"}]}
ids, mask = render(rec, t, assistant_only=True)
ids2, mask2 = render(rec, t, assistant_only=False)
learned = t.decode([i for i, m in zip(ids, mask) if m])
print(json.dumps({"text": t.decode(ids), "learned": learned, "same_ids": ids == ids2, "all": all(mask2)}))
`);
    expect(r.text).toBe('<|system|>\nS<|end|>\n<|user|>\nhi<|end|>\n<|assistant|>\nyo<|end|>\n<|user|>\nagain<|end|>\n<|assistant|>\nok<|end|>\n');
    expect(r.learned).toBe('yo<|end|>ok<|end|>');
    expect(r.same_ids).toBe(true);
    expect(r.all).toBe(true);
  });

  it('LoRA from an exported model: only adapters train, the reply is learnt, the export is merged and passes parity', {timeout: 400_000}, async () => {
    const root = tempDir('llmops-trainer-ft-');
    // A base that has seen the chat template (a train run learns from every token of chat records)
    // with varied replies; the finetune then teaches one fixed reply. LoRA cannot move the frozen
    // embeddings, so the reply uses tokens the base knows.
    const varied = (i: number) => [0, 1, 2].map((k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' ');
    const baseData = dataset(root, 'base-data', [...textRecords(100, 1), ...conversations(100, 5, varied)], textRecords(10, 2));
    const base = await runTrainer(makeSpec(root, 'base', baseData, {
      max_steps: 60, export: true, overrides: {n_layer: 2, n_head: 4, n_embd: 64, context: 64, batch_size: 8},
    }));
    expect(base.code, base.stderr).toBe(0);
    const baseModel = path.join(base.runDir, 'model');

    const spec = makeSpec(root, 'ft', dataset(root, 'chat', conversations(64, 3, () => 'the dog sat on a mat'), conversations(8, 4, () => 'the dog sat on a mat')), {
      kind: 'finetune',
      max_steps: 40,
      overrides: {batch_size: 8, log_every: 1, lr: 0.02, warmup_steps: 5},
      export: true,
      finetune: {base: baseModel, method: 'lora', lora: {r: 4, alpha: 8, dropout: 0, targets: ['qkv', 'proj']}},
    });
    const ft = await runTrainer(spec);
    expect(ft.code, ft.stderr).toBe(0);
    const env = ft.events[0]!.env;
    // Adapters only: far fewer trainable parameters than the model has.
    expect(env.trainable_params).toBeGreaterThan(0);
    expect(env.trainable_params).toBeLessThan(env.params / 4);
    const l = losses(ft.events);
    // The fixed reply is being learnt (the user noise is not a target: see the masking test above).
    expect(l.get(40)!).toBeLessThan(l.get(1)! * 0.75);

    const model = path.join(spec.run_dir, 'model');
    const meta = readJson(path.join(model, 'llmops_model.json'));
    expect(meta.lora).toEqual({r: 4, alpha: 8, targets: ['qkv', 'proj'], merged: true});
    expect(meta.base).toMatchObject({path: baseModel, run_id: 'r-base', type: 'llmops-gpt', method: 'lora'});
    expect(meta.kind).toBe('finetune');
    const keys = await python(`
import json, torch
p = torch.load(${JSON.stringify(path.join(model, 'model.pt'))})
b = torch.load(${JSON.stringify(path.join(baseModel, 'model.pt'))})
diff = max((p["state_dict"][k] - b["state_dict"][k]).abs().max().item() for k in b["state_dict"])
print(json.dumps({"lora_keys": [k for k in p["state_dict"] if "lora" in k], "lora": p["lora"], "diff": diff,
                  "same_keys": sorted(p["state_dict"]) == sorted(b["state_dict"])}))
`);
    // Merged: a plain model with the base's layout, usable as a base itself, and different weights.
    expect(keys).toMatchObject({lora_keys: [], lora: null, same_keys: true});
    expect(keys.diff).toBeGreaterThan(1e-3);
    const parity = await checkParity(model);
    expect(parity.ok).toBe(true);
  });
});
