/**
 * `llmops train --tokenizer DIR|hf:OWNER/NAME`: a Llama-architecture model from scratch with a real
 * published tokenizer (Phi-3's SentencePiece-style BPE with byte fallback, 32k ids: test/fixtures/
 * models/phi3), through the real CLI: train a few steps, export (train's own), `deploy`, and the
 * served completions equal transformers.js `generate` on the exported folder, token for token
 * (greedy), decoded with that tokenizer. The `hf:` form downloads the tokenizer from a local
 * stand-in for the Hub (the one part we cannot reach), and only the tokenizer's files.
 */
import {createHash} from 'node:crypto';
import {cpSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {fixtureFolder} from '../model/fixtures.js';
import {makeProject} from '../runtime/helpers.js';
import {serveRepo} from '../helpers/hub-stand-in.js';
import {folderCompletion} from './hf-helpers.js';

const PROMPT = 'the cat sat on the';
const NEW_TOKENS = 8;

/** Trains a few steps with `tokenizer`, deploys the export, and checks it against transformers.js. */
async function trainDeployCompare(project: {dir: string}, tokenizer: string, env: Record<string, string | undefined> = {}): Promise<{modelDir: string; text: string}> {
  const r = await runCli(['train', '--tokenizer', tokenizer, '--max-steps', '4', '--set', 'n_kv_head=1', '--json'], {cwd: project.dir, env});
  expect(r.code, r.stderr + r.stdout).toBe(0);
  expect(r.json.status).toBe('succeeded');
  const modelDir = r.json.modelDir as string;
  const name = `tok-${path.basename(r.json.runDir)}`;
  const up = await runCli(['deploy', '--model', modelDir, '--name', name, '--port', '0', '--detach', '--json'], {cwd: project.dir, env});
  expect(up.code, up.stderr).toBe(0);
  try {
    const ref = await folderCompletion(modelDir, PROMPT, NEW_TOKENS);
    expect(ref.tokens).toBeGreaterThan(0);
    const api = new OpenAI({baseURL: up.json.url + '/v1', apiKey: 'unused', maxRetries: 0});
    const got = await api.completions.create({model: name, prompt: PROMPT, max_tokens: NEW_TOKENS, temperature: 0});
    expect(got.choices[0]!.text).toBe(ref.text);
    expect(got.usage!.completion_tokens).toBe(ref.tokens);
    const stream = await api.completions.create({model: name, prompt: PROMPT, max_tokens: NEW_TOKENS, temperature: 0, stream: true});
    let text = '';
    for await (const ch of stream) text += ch.choices[0]?.text ?? '';
    expect(text).toBe(ref.text);
    return {modelDir, text};
  } finally {
    await runCli(['deploy', 'stop', name], {cwd: project.dir, env});
  }
}

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

describe('llmops train --tokenizer with a real published tokenizer (Phi-3 SentencePiece BPE)', () => {
  it('--tokenizer DIR: trains a Llama model with that vocabulary, deploys it, and the served text equals transformers.js generate on the export', {timeout: 300_000}, async () => {
    const project = makeProject();
    const tok = fixtureFolder('phi3');
    const {modelDir, text} = await trainDeployCompare(project, tok);
    const cfg = readJson(path.join(modelDir, 'config.json'));
    expect(cfg).toMatchObject({model_type: 'llama', num_key_value_heads: 1});
    expect(cfg.vocab_size).toBeGreaterThanOrEqual(32011);
    expect(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8')).toBe(readFileSync(path.join(tok, 'tokenizer.json'), 'utf8'));
    console.log(`train --tokenizer DIR (phi3): served ${JSON.stringify(text)}`);
  });

  it('--tokenizer hf:OWNER/NAME downloads only the tokenizer files at the commit and the result serves the same way (Hub mocked by a local stand-in server)', {timeout: 300_000}, async () => {
    const project = makeProject();
    const repoDir = path.join(project.dir, 'hub-repo');
    cpSync(fixtureFolder('phi3'), repoDir, {recursive: true});
    // What a model repository also holds and a tokenizer does not need.
    writeFileSync(path.join(repoDir, 'model.safetensors'), Buffer.alloc(300_000, 3));
    const sha = createHash('sha1').update('phi3-tokenizer@1').digest('hex');
    const hub = await serveRepo('acme/phi3-tok', repoDir, sha);
    try {
      const {modelDir} = await trainDeployCompare(project, 'hf:acme/phi3-tok', {HF_ENDPOINT: hub.url, HF_TOKEN: undefined, HF_HOME: undefined, HF_HUB_CACHE: undefined});
      const fetched = hub.requests.filter((q) => q.includes('/resolve/')).map((q) => q.split(`/resolve/${sha}/`)[1]);
      expect(new Set(fetched)).toEqual(new Set(['tokenizer.json', 'tokenizer_config.json']));
      expect(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8')).toBe(readFileSync(path.join(repoDir, 'tokenizer.json'), 'utf8'));
    } finally {
      await hub.close();
    }
  });
});
