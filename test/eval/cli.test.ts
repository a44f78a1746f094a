/**
 * `llmops eval` end to end: a real ledger with a fine-tune and its base (the fine-tune's model is
 * the trained tiny model, the base the bigram model), the command's JSON, --check's exit code,
 * and the recorded results in `runs show`, `lineage` and `monitor --html`.
 */
import {mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from '../serve/helpers/model.js';
import {buildBigramModel} from './helpers/bigram.js';
import {serveRepo} from '../helpers/hub-stand-in.js';

let dir: string;

beforeAll(async () => {
  dir = tempDir('llmops-eval-cli-');
  writeFileSync(path.join(dir, 'llmops.yaml'), 'eval:\n  checks:\n    perplexity: {max: 1.0}\n    perplexity_ratio: {max: 1.05}\n    pct_stereotype: {min: 0.4, max: 0.6}\n');
  const ds = path.join(dir, 'data', 'prepared');
  mkdirSync(ds, {recursive: true});
  const texts = ['the cat sat on a mat', 'the dog ran to the park with a ball', 'a cat and a dog'];
  writeFileSync(path.join(ds, 'test.jsonl'), texts.map((text, i) => JSON.stringify({id: `t${i}`, text})).join('\n') + '\n');
  for (const [id, model] of [['r-base', buildBigramModel(64)], ['r-ft', (await tinyModel()).modelDir]] as const) {
    mkdirSync(path.join(dir, 'runs', id), {recursive: true});
    symlinkSync(model, path.join(dir, 'runs', id, 'model'));
  }
  const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
  l.upsertDataset({id: 'ds-eval', path: ds, manifestSha256: 'b'.repeat(64), manifest: {inputs: []}, records: 3, kind: 'text'});
  l.insertRun({id: 'r-base', kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: path.join(dir, 'runs', 'r-base'), datasetId: 'ds-eval', spec: {command: ['python3', 'trainer/train.py']}});
  l.insertRun({id: 'r-ft', kind: 'finetune', status: 'succeeded', backend: 'local', backendType: 'local', runDir: path.join(dir, 'runs', 'r-ft'), datasetId: 'ds-eval', parentRunId: 'r-base', spec: {command: ['python3', 'trainer/train.py']}});
  l.insertDeployment({id: 'dep-1', name: 'demo', status: 'stopped', model_run_id: 'r-ft', model_dir: path.join(dir, 'runs', 'r-ft', 'model'), target: 'local', host: '127.0.0.1', port: 1, url: 'http://127.0.0.1:1', pid: null, log_path: null, price_per_hour: 0, config_json: '{}'});
  l.close();
}, 300_000);

describe('llmops eval', () => {
  it('with no suite flag measures perplexity on the run\'s test split, against the fine-tune\'s base with --baseline auto, and --check exits 7 naming the failed check', async () => {
    const r = await runCli(['eval', '--model', 'r-ft', '--baseline', 'auto', '--check', '--json', '--verbose'], {cwd: dir});
    expect(r.code, r.stderr).toBe(7);
    const j = r.json;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['model', 'perplexity', 'baseline', 'checks']));
    expect(j.choices).toBeUndefined();
    expect(j.model).toMatchObject({run_id: 'r-ft'});
    expect(j.perplexity).toMatchObject({tokens: 'the cat sat on a mat'.length + 'the dog ran to the park with a ball'.length + 'a cat and a dog'.length, data: 'ds-eval'});
    expect(j.perplexity.value).toBeGreaterThan(1);
    expect(j.perplexity.window).toBe(128);
    expect(j.baseline.model).toMatchObject({run_id: 'r-base'});
    expect(j.baseline.deltas.perplexity_ratio).toBeCloseTo(j.perplexity.value / j.baseline.perplexity.value, 10);
    expect(j.checks).toEqual([
      {name: 'perplexity', value: j.perplexity.value, max: 1, status: 'fail'},
      {name: 'perplexity_ratio', value: j.baseline.deltas.perplexity_ratio, max: 1.05, status: j.baseline.deltas.perplexity_ratio <= 1.05 ? 'pass' : 'fail'},
      {name: 'pct_stereotype', value: null, min: 0.4, max: 0.6, status: 'skipped', reason: 'its suite did not run'},
    ]);
    expect(r.stderr).toMatch(/eval perplexity: \d+\/\d+ windows \(100%\)/);
    expect(r.stderr).toContain('eval check failed: perplexity');
  });

  it('records results in the ledger, shown by runs show, lineage and the monitor report', async () => {
    const r = await runCli(['eval', '--model', 'r-ft', '--pairs', 'builtin', '--limit', '12'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pairs\s+pct_stereotype\s+[\d.]+\s+12/);
    const show = await runCli(['runs', 'show', 'r-ft', '--json'], {cwd: dir});
    expect(show.code, show.stdout + show.stderr).toBe(0);
    const metrics = show.json.evals.map((e: any) => `${e.suite}/${e.metric}`);
    expect(metrics).toEqual(expect.arrayContaining(['perplexity/perplexity', 'perplexity/bits_per_byte', 'pairs/pct_stereotype', 'pairs/pct_stereotype[gender]']));
    expect(show.json.evals.find((e: any) => e.metric === 'pct_stereotype').n).toBe(12);
    const lin = await runCli(['lineage', 'r-ft'], {cwd: dir});
    expect(lin.stdout).toMatch(/\n  eval .*pct_stereotype [\d.]+ \(bias-probes\.jsonl\).*perplexity [\d.]+ \(ds-eval\)/);
    expect(lin.stdout).toMatch(/\n      eval .*perplexity [\d.]+ \(ds-eval\)/);
    const html = path.join(dir, 'report.html');
    const mon = await runCli(['monitor', 'demo', '--html', html], {cwd: dir});
    expect(mon.code, mon.stderr).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('Evaluation and bias');
    expect(page).toContain('pct_stereotype');
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'), {readonly: true});
    const rows = l.evals.latestForRun('r-base');
    l.close();
    expect(rows.map((x) => x.metric)).toEqual(['bits_per_byte', 'perplexity']);
    expect(rows[0]).toMatchObject({role: 'baseline', data: 'ds-eval', data_sha256: expect.stringMatching(/^[0-9a-f]{64}$/)});
  });

  it('a bad --extract regex and an unknown model are usage and not-found errors', async () => {
    const bad = await runCli(['eval', '--model', 'r-ft', '--generate', 'x.jsonl', '--extract', '(', '--json'], {cwd: dir});
    expect(bad.code).toBe(2);
    expect(bad.json.error.message).toContain('--extract (: not a valid regular expression');
    const nope = await runCli(['eval', '--model', 'r-nope', '--json'], {cwd: dir});
    expect(nope.code).toBe(9);
    expect(nope.json.error.message).toContain('"r-nope" is neither a model folder nor a run id');
  });
});

describe('llmops eval --threads', () => {
  it('sets onnxruntime\'s intra-op threads without changing the numbers, and refuses 0 as a usage error', async () => {
    const [one, two] = await Promise.all([1, 2].map((n) => runCli(['eval', '--model', 'r-ft', '--threads', String(n), '--json'], {cwd: dir})));
    expect(one!.code, one!.stderr).toBe(0);
    expect(two!.code, two!.stderr).toBe(0);
    expect(one!.json.perplexity.tokens).toBe(two!.json.perplexity.tokens);
    expect(Math.abs(one!.json.perplexity.value / two!.json.perplexity.value - 1)).toBeLessThan(1e-5);
    const bad = await runCli(['eval', '--model', 'r-ft', '--threads', '0'], {cwd: dir});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/threads/);
  });
});

describe('llmops eval --model hf:OWNER/NAME (Hub mocked by a local stand-in server)', () => {
  it('fetches only what serving needs at the revision\'s commit, records that commit, and scores as the same folder does locally', async () => {
    const {modelDir} = await tinyModel();
    const sha = 'e'.repeat(40);
    const hub = await serveRepo('acme/tiny-eval', modelDir, sha);
    const env = {HF_ENDPOINT: hub.url, HF_HOME: path.join(dir, 'hf-home'), HF_TOKEN: undefined};
    try {
      const remote = await runCli(['eval', '--model', 'hf:acme/tiny-eval', '--dataset', 'ds-eval', '--json'], {cwd: dir, env});
      expect(remote.code, remote.stderr).toBe(0);
      const local = await runCli(['eval', '--model', modelDir, '--dataset', 'ds-eval', '--json'], {cwd: dir});
      expect(local.code, local.stderr).toBe(0);
      expect(remote.json.model.ref).toBe(`hf:acme/tiny-eval@${sha}`);
      expect(remote.json.perplexity.value).toBe(local.json.perplexity.value);
      const fetched = hub.seen.filter((q) => q.path.includes('/resolve/') && q.full).map((q) => q.path.split(`/resolve/${sha}/`)[1]);
      // The trainer's checkpoint (model.pt) and parity inputs are not what a server needs.
      expect(fetched).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'onnx/model.onnx']));
      expect(fetched).not.toContain('model.pt');
      expect(fetched).not.toContain('parity_inputs.json');
    } finally {
      await hub.close();
    }
  });
});
