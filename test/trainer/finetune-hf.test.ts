/**
 * `llmops finetune --base DIR --method lora` on a Hugging Face checkpoint (a tiny random Llama with
 * grouped-query attention written by export_hf.py), through the real CLI, with no transformers:
 * the data is tokenized in Node with the model's chat template, LoRA adapts every projection, the
 * merged model is exported to the onnx-community layout, and transformers.js loads the export with
 * the logits of our torch forward on the exported checkpoint.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {beforeAll, describe, expect, it} from 'vitest';
import {ModelTokenizer} from '../../src/lib/model/index.js';
import {runCli} from '../helpers/cli.js';
import {makeProject} from '../runtime/helpers.js';
import {TINY, exportRandom, folderCompletion, makeTokenizerDir, maxAbsDiff, torchReference, transformersJs} from './hf-helpers.js';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const readJsonl = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const PROMPT = '<|user|>\nthe cat sat<|end|>\n<|assistant|>\n';

describe('llmops finetune on a Hugging Face Llama checkpoint (no transformers)', () => {
  let project: ReturnType<typeof makeProject>;
  let base = '';

  beforeAll(() => {
    project = makeProject({chat: true});
    base = exportRandom(project.dir, 'tiny-llama', TINY.llama, makeTokenizerDir(project.dir));
  }, 120_000);

  it('LoRA on q/k/v/o/gate/up/down, merged and exported; transformers.js on the export matches our torch forward', {timeout: 300_000}, async () => {
    const r = await runCli(['finetune', '--base', base, '--method', 'lora', '--max-steps', '8',
      '--set', 'context=200', '--set', 'warmup_steps=2', '--set', 'lr=0.01', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    const runDir = r.json.runDir as string;
    const model = r.json.modelDir as string;

    // The data the trainer read: ids + loss masks from Node; masked tokens are the assistant's turn.
    const rows = readJsonl(path.join(runDir, 'tokens', 'train.jsonl'));
    expect(rows.length).toBe(200);
    const data = readJsonl(path.join(project.dir, 'data', 'prepared', 'train.jsonl'));
    const tok = ModelTokenizer.fromFolder(base);
    const learnt = tok.decode(rows[0].ids.filter((_: number, i: number) => rows[0].mask[i] === 1));
    expect(learnt).toBe(`${data[0].messages[1].content}<|end|>`);
    expect(readJson(path.join(runDir, 'tokens', 'meta.json')).splits.train).toMatchObject({mode: 'chat', records: 200});

    // Records longer than the context (200) are truncated by default, and counted.
    const events = readJsonl(path.join(runDir, 'events.jsonl'));
    const running = events.find((e) => e.type === 'status' && e.status === 'running');
    expect(running.env.data.train).toMatchObject({records: 200, policy: 'truncate', dropped: 0});
    expect(running.env.data.train.truncated).toBeGreaterThan(0);
    expect(running.env.trainable_params).toBeLessThan(running.env.params / 2);

    // The export: onnx-community layout, LoRA merged, parity checked by the supervisor.
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'onnx/model.onnx']) {
      expect(existsSync(path.join(model, f)), f).toBe(true);
    }
    const meta = readJson(path.join(model, 'llmops_model.json'));
    expect(meta).toMatchObject({format: 'hf', family: 'llama', lora: {r: 8, merged: true,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']}, base: {type: 'hf', method: 'lora'}});
    expect(readJson(path.join(model, 'config.json'))).toMatchObject({model_type: 'llama', num_key_value_heads: 2});

    const js = await transformersJs(model, PROMPT, 'fp32', 6);
    const tuned = torchReference(model, js.ids, 6);
    const diff = maxAbsDiff(js.logits, tuned.logits);
    const moved = maxAbsDiff(tuned.logits, torchReference(base, js.ids, 0).logits);
    console.log(`finetune lora: max |transformers.js - torch| = ${diff.toExponential(2)}; fine-tuned vs base logits moved by ${moved.toFixed(3)}`);
    expect(diff).toBeLessThan(1e-4);
    expect(js.greedy).toEqual(tuned.greedy.slice(0, js.greedy.length));
    expect(moved).toBeGreaterThan(1e-3);

    // `llmops export RUN_ID` rebuilds the same model from the checkpoint (base + LoRA weights).
    const x = await runCli(['export', r.json.id, '--out', path.join(project.dir, 'reexport'), '--json'], {cwd: project.dir});
    expect(x.code, x.stderr + x.stdout).toBe(0);
    expect(x.json.parity).toMatchObject({checked: true, ok: true});
    expect(readJson(path.join(project.dir, 'reexport', 'parity_inputs.json'))).toEqual(readJson(path.join(model, 'parity_inputs.json')));
  });

  it('finetune.long_records: error fails the run naming the record that does not fit the context', {timeout: 120_000}, async () => {
    const yamlFile = path.join(project.dir, 'llmops.yaml');
    writeFileSync(yamlFile, readFileSync(yamlFile, 'utf8').replace('finetune:\n', 'finetune:\n  long_records: error\n'));
    const r = await runCli(['finetune', '--base', base, '--method', 'full', '--max-steps', '2', '--set', 'context=64', '--json'], {cwd: project.dir});
    expect(r.code).toBe(5);
    expect(r.json.status).toBe('failed');
    expect(r.json.reason).toMatch(/tokens\/train\.jsonl:1: record 'train-0' has \d+ tokens, more than the context \(64\)/);
    expect(r.json.reason).toContain('finetune.long_records: truncate');
  });
});

describe('llmops finetune on a Hugging Face Phi-3 checkpoint (fused projections, partial rotary; no transformers)', () => {
  it('LoRA on qkv_proj/o_proj/gate_up_proj/down_proj, merged and exported; `llmops deploy` serves the greedy tokens of transformers.js generate on the export', {timeout: 300_000}, async () => {
    const project = makeProject({chat: true});
    const base = exportRandom(project.dir, 'tiny-phi3', {...TINY.phi3, sliding_window: 8}, makeTokenizerDir(project.dir));
    const r = await runCli(['finetune', '--base', base, '--method', 'lora', '--max-steps', '6',
      '--set', 'context=96', '--set', 'warmup_steps=2', '--set', 'lr=0.01', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    const model = r.json.modelDir as string;
    expect(readJson(path.join(model, 'llmops_model.json'))).toMatchObject({family: 'phi3',
      lora: {merged: true, targets: ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']}});
    expect(readJson(path.join(model, 'config.json'))).toMatchObject({model_type: 'phi3', architectures: ['Phi3ForCausalLM'],
      partial_rotary_factor: 0.75, sliding_window: 8, num_key_value_heads: 2});

    const tuned = torchReference(model, [260, 10, 116, 104, 101], 0).logits;
    const moved = maxAbsDiff(tuned, torchReference(base, [260, 10, 116, 104, 101], 0).logits);
    expect(moved).toBeGreaterThan(1e-3);

    const name = 'phi3-lora';
    const up = await runCli(['deploy', '--model', model, '--name', name, '--port', '0', '--detach', '--json'], {cwd: project.dir});
    expect(up.code, up.stderr).toBe(0);
    try {
      const ref = await folderCompletion(model, PROMPT, 8);
      expect(ref.tokens).toBeGreaterThan(0);
      const api = new OpenAI({baseURL: up.json.url + '/v1', apiKey: 'unused', maxRetries: 0});
      const got = await api.completions.create({model: name, prompt: PROMPT, max_tokens: 8, temperature: 0});
      console.log(`finetune phi3 lora: logits moved by ${moved.toFixed(3)}; served ${JSON.stringify(got.choices[0]!.text)}, transformers.js ${JSON.stringify(ref.text)}`);
      expect(got.choices[0]!.text).toBe(ref.text);
      expect(got.usage!.completion_tokens).toBe(ref.tokens);
    } finally {
      await runCli(['deploy', 'stop', name], {cwd: project.dir});
    }
  });
});
