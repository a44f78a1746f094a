import {readFileSync, existsSync} from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {checkParity} from '../../src/lib/runtime/parity.js';
import {EXPORT_PY, PYTHON, losses, makeSpec, makeTextDataset, runTrainer, tempDir} from './helpers.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

describe('trainer: tiny preset end to end', () => {
  it('loss falls on the real tiny preset; events follow the protocol; the export loads in onnxruntime-node with logits within 1e-4', {timeout: 400_000}, async () => {
    const root = tempDir('llmops-trainer-tiny-');
    const ds = makeTextDataset(root, 300);
    const spec = makeSpec(root, 'run', ds, {
      max_steps: 30, overrides: {log_every: 5}, eval_every: 15, checkpoint_every: 15, export: true, threads: 1,
    });
    const r = await runTrainer(spec);
    expect(r.code, r.stderr).toBe(0);
    const ev = r.events;

    // Protocol: running first (with the environment), succeeded last, every event timestamped.
    expect(ev[0]).toMatchObject({type: 'status', status: 'running', total_steps: 30});
    expect(ev[0]!.env).toMatchObject({device: 'cpu', cuda: null, gpu_count: 0, tokens_per_step: 8 * 128});
    expect(ev[0]!.env.params).toBeGreaterThan(100_000);
    expect(ev.at(-1)).toMatchObject({type: 'status', status: 'succeeded'});
    for (const e of ev) expect(typeof e.ts).toBe('number');

    const l = losses(ev);
    expect([...l.keys()]).toEqual([1, 5, 10, 15, 20, 25, 30]);
    expect(l.get(30)!).toBeLessThan(l.get(1)! - 1.5);
    const val = ev.filter((e) => e.type === 'metric' && 'val_loss' in e.values);
    expect(val.map((e) => e.step)).toEqual([15, 30]);
    expect(val[1]!.values.val_ppl).toBeCloseTo(Math.exp(val[1]!.values.val_loss), 3);
    expect(ev.filter((e) => e.type === 'checkpoint').map((e) => e.step)).toEqual([15, 30]);
    const model = path.join(spec.run_dir, 'model');
    expect(ev.filter((e) => e.type === 'artifact').map((e) => [e.kind, e.path])).toEqual([
      ['model', model],
      ['onnx', path.join(model, 'onnx', 'model.onnx')],
    ]);

    // The model directory the server and HF tools read.
    const config = readJson(path.join(model, 'config.json'));
    expect(config).toMatchObject({model_type: 'llmops-gpt', n_layer: 2, n_head: 4, n_embd: 128, head_dim: 32,
      vocab_size: 263, n_positions: 128, bos_token_id: 256, eos_token_id: 257, pad_token_id: 258});
    expect(readJson(path.join(model, 'generation_config.json'))).toMatchObject({eos_token_id: [262, 257], max_length: 128});
    const meta = readJson(path.join(model, 'llmops_model.json'));
    expect(meta).toMatchObject({preset: 'tiny', run_id: 'r-run', dataset_id: 'ds-test', base: null, lora: null});
    expect(meta.chat_format).toMatchObject({user: '<|user|>\n{content}<|end|>\n', generation_prompt: '<|assistant|>\n',
      stop: ['<|end|>', '<|eos|>']});
    expect(readJson(path.join(model, 'tokenizer_config.json')).chat_template).toContain('<|end|>');
    for (const f of ['tokenizer.json', 'model.pt', 'parity_inputs.json']) expect(existsSync(path.join(model, f))).toBe(true);

    const parity = await checkParity(model);
    expect(parity.ok).toBe(true);
    expect(parity.maxAbsDiff).toBeLessThan(1e-4);
    expect(parity.samples.length).toBe(3);

    // Standalone re-export from the run's latest checkpoint reproduces the same logits.
    const out = path.join(root, 'reexport');
    const x = spawnSync(PYTHON, [EXPORT_PY, '--checkpoint', spec.run_dir, '--out', out], {encoding: 'utf8'});
    expect(x.status, x.stderr).toBe(0);
    expect(readJson(path.join(out, 'parity_inputs.json'))).toEqual(readJson(path.join(model, 'parity_inputs.json')));
    expect((await checkParity(out)).ok).toBe(true);
  });
});
