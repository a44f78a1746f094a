/**
 * `llmops export DIR` through the real CLI: a Hugging Face checkpoint (bf16, sharded, as the Hub
 * publishes larger models) becomes the onnx-community layout, which transformers.js loads offline
 * with the logits of our torch forward on the ORIGINAL checkpoint.
 */
import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {makeProject} from '../runtime/helpers.js';
import {PYTHON, TRAINER_DIR} from './helpers.js';
import {serveRepo} from '../helpers/hub-stand-in.js';
import {TINY, exportRandom, makeTokenizerDir, maxAbsDiff, torchReference, transformersJs} from './hf-helpers.js';

const PROMPT = '<|user|>\nHi there<|end|>\n<|assistant|>\n';

describe('llmops export DIR (a Hugging Face checkpoint, no training)', () => {
  let project: ReturnType<typeof makeProject>;
  let ckpt = '';

  beforeAll(() => {
    project = makeProject();
    const tok = makeTokenizerDir(project.dir);
    // A checkpoint as the Hub has them: bf16 weights in shards with an index, tokenizer files, no ONNX.
    const random = exportRandom(project.dir, 'random-llama', {...TINY.llama, tie_word_embeddings: false}, tok);
    ckpt = path.join(project.dir, 'TinyLlama-bf16');
    const py = `import shutil, sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from hf_models import load_pretrained, save_pretrained
m, _ = load_pretrained(sys.argv[1])
save_pretrained(m, sys.argv[2], dtype="bfloat16", max_shard_bytes=100000)
for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"): shutil.copy(sys.argv[1] + "/" + f, sys.argv[2])`;
    const r = spawnSync(PYTHON, ['-c', py, random, ckpt], {encoding: 'utf8'});
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(ckpt, 'model.safetensors.index.json'))).toBe(true);
  }, 120_000);

  it('converts a sharded bf16 llama checkpoint; transformers.js on the export matches our torch forward on the checkpoint', {timeout: 180_000}, async () => {
    const out = path.join(project.dir, 'models', 'tiny');
    const r = await runCli(['export', ckpt, '--out', out, '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json).toMatchObject({source: ckpt, checkpoint: ckpt, revision: null, modelDir: out, family: 'llama', dtype: 'fp32',
      onnx: path.join(out, 'onnx', 'model.onnx'), parity: {checked: true, ok: true}});
    expect(r.json.parity.maxAbsDiff).toBeLessThan(1e-4);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    const js = await transformersJs(out, PROMPT, 'fp32', 6);
    const ref = torchReference(ckpt, js.ids, 6);
    const diff = maxAbsDiff(js.logits, ref.logits);
    console.log(`export CLI: max |transformers.js(export) - torch(bf16 checkpoint)| = ${diff.toExponential(2)}; export ${r.json.seconds.toFixed(1)}s`);
    expect(diff).toBeLessThan(1e-4);
    expect(js.greedy).toEqual(ref.greedy.slice(0, js.greedy.length));

    // fp16 for GPUs: onnx/model_fp16.onnx, float16 cache and logits.
    const r16 = await runCli(['export', ckpt, '--dtype', 'fp16', '--json'], {cwd: project.dir});
    expect(r16.code, r16.stderr + r16.stdout).toBe(0);
    expect(r16.json).toMatchObject({modelDir: path.join(project.dir, 'models', 'TinyLlama-bf16-fp16'), dtype: 'fp16', parity: {ok: true}});
    expect(existsSync(path.join(r16.json.modelDir, 'onnx', 'model_fp16.onnx'))).toBe(true);
  });

  it('export hf:OWNER/NAME downloads the checkpoint into the cache and names the commit it converted (Hub mocked by a local stand-in server)', {timeout: 180_000}, async () => {
    const sha = createHash('sha1').update('tiny-llama@1').digest('hex');
    const hub = await serveRepo('acme/tiny-llama', ckpt, sha);
    try {
      const r = await runCli(['export', 'hf:acme/tiny-llama', '--json'], {cwd: project.dir, env: {HF_ENDPOINT: hub.url, HF_TOKEN: undefined}});
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.json).toMatchObject({source: 'hf:acme/tiny-llama', revision: sha, family: 'llama',
        modelDir: path.join(project.dir, 'models', 'acme--tiny-llama'), parity: {checked: true, ok: true}});
      expect(r.json.checkpoint).toContain(path.join('models--acme--tiny-llama', 'snapshots', sha));
      expect(hub.requests.some((q) => q.includes('/resolve/') && q.endsWith('model.safetensors.index.json'))).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('refuses an unsupported model_type, naming it and the supported families (exit 4)', {timeout: 60_000}, async () => {
    const bad = path.join(project.dir, 'bert-model');
    mkdirSync(bad, {recursive: true});
    writeFileSync(path.join(bad, 'config.json'), JSON.stringify({model_type: 'bert', hidden_size: 64}));
    writeFileSync(path.join(bad, 'tokenizer.json'), '{}');
    const r = await runCli(['export', bad, '--out', path.join(project.dir, 'x')], {cwd: project.dir});
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('model_type "bert" is not supported');
    expect(r.stderr).toContain('llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gpt2');
    const none = path.join(project.dir, 'empty-folder');
    mkdirSync(none);
    const r2 = await runCli(['export', none], {cwd: project.dir});
    expect(r2.code).toBe(4);
    expect(r2.stderr).toContain('no config.json');
  });
});
