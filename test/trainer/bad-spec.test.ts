import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {makeSpec, makeTextDataset, runTrainer, tempDir} from './helpers.js';

describe('trainer: bad specs fail clearly', () => {
  it('a missing dataset directory: exit 2, the path and a fix on stderr, a failed event', async () => {
    const root = tempDir('llmops-trainer-bad-');
    const missing = path.join(root, 'no-such-dataset');
    const r = await runTrainer(makeSpec(root, 'r', missing));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('Try this');
    expect(r.stderr).not.toContain('Traceback');
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({type: 'status', status: 'failed'});
    expect(r.events[0]!.reason).toContain(missing);
  });

  it('an unknown override and a malformed dataset line are named precisely', async () => {
    const root = tempDir('llmops-trainer-bad-');
    const ds = makeTextDataset(root, 10);
    const r1 = await runTrainer(makeSpec(root, 'r1', ds, {overrides: {n_layers: 2}}));
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('overrides.n_layers: unknown hyper-parameter');
    expect(r1.events.at(-1)).toMatchObject({type: 'status', status: 'failed'});

    writeFileSync(path.join(ds, 'train.jsonl'), '{"id": "a", "text": "ok"}\n{"id": "b", "txt": "typo"}\n');
    const r2 = await runTrainer(makeSpec(root, 'r2', ds));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${path.join(ds, 'train.jsonl')}:2: expected a "text" string or a "messages" list`);
  });

  it('a Hugging Face base of a family the trainer does not implement, without transformers importable, fails with what to install (transformers is absent here)', async () => {
    const root = tempDir('llmops-trainer-bad-');
    const base = path.join(root, 'hf-base');
    mkdirSync(base);
    writeFileSync(path.join(base, 'config.json'), JSON.stringify({model_type: 'falcon'}));
    const r = await runTrainer(makeSpec(root, 'r', makeTextDataset(root, 10), {
      kind: 'finetune', finetune: {base, method: 'lora', lora: {r: 8, alpha: 16, dropout: 0, targets: ['qkv', 'proj']}},
    }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs the Python packages transformers');
    expect(r.stderr).toContain('Try this');
    expect(r.events.at(-1)).toMatchObject({type: 'status', status: 'failed'});
  });

  it('a Llama base (fine-tuned without transformers) whose config.json lacks a key names the file and the key', async () => {
    const root = tempDir('llmops-trainer-bad-');
    const base = path.join(root, 'hf-base');
    mkdirSync(base);
    writeFileSync(path.join(base, 'config.json'), JSON.stringify({model_type: 'llama'}));
    const r = await runTrainer(makeSpec(root, 'r', makeTextDataset(root, 10), {
      kind: 'finetune', finetune: {base, method: 'lora', lora: {r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj']}},
    }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(base, 'config.json')}: key "hidden_size" is required for model_type "llama"`);
    expect(r.events.at(-1)).toMatchObject({type: 'status', status: 'failed'});
  });
});
