import path from 'node:path';
import {writeFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {lineage} from '../../src/lib/ledger/lineage.js';
import {runCli, tempDir} from '../helpers/cli.js';

function seed(dir: string) {
  const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
  const manifest = {inputs: [{path: 'data/sample/corpus.jsonl', sha256: 'a'.repeat(64), records: 480}]};
  l.upsertDataset({id: 'ds-000000000001', path: '/p/data/prepared', manifestSha256: 'b'.repeat(64), manifest, records: 470, kind: 'mixed'});
  l.insertRun({
    id: 'r-base', kind: 'train', backend: 'local', backendType: 'local', runDir: '/p/.llmops/runs/r-base', preset: 'tiny',
    datasetId: 'ds-000000000001', spec: {seed: 1337}, lineage: {configHash: 'c'.repeat(64), git: {commit: 'deadbeefcafe', dirty: true}, seed: 1337},
  });
  l.addArtifact({runId: 'r-base', kind: 'model', path: '/p/.llmops/runs/r-base/model'});
  l.insertRun({
    id: 'r-ft', kind: 'finetune', backend: 'local', backendType: 'local', runDir: '/p/.llmops/runs/r-ft', preset: 'tiny',
    datasetId: 'ds-000000000001', parentRunId: 'r-base', spec: {finetune: {method: 'lora', base: '/p/.llmops/runs/r-base/model'}}, lineage: {seed: 1337},
  });
  l.insertDeployment({id: 'dep-1', name: 'demo', status: 'running', model_run_id: 'r-ft', model_dir: '/p/.llmops/runs/r-ft/model', target: 'local', host: '127.0.0.1', port: 8000, url: 'http://127.0.0.1:8000', pid: null, log_path: null, price_per_hour: 0, config_json: '{}'});
  l.close();
}

describe('lineage', () => {
  it('walks back from a deployment to the finetune, its base run, the dataset and the raw inputs', () => {
    const dir = tempDir();
    seed(dir);
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    const r = lineage(l, 'demo');
    expect(r.subject).toEqual({type: 'deployment', id: 'dep-1'});
    const up = r.upstream as any;
    expect(up.model.id).toBe('r-ft');
    expect(up.model.method).toBe('lora');
    expect(up.model.parent.id).toBe('r-base');
    expect(up.model.parent.git).toEqual({commit: 'deadbeefcafe', dirty: true});
    expect(up.model.parent.modelDir).toBe('/p/.llmops/runs/r-base/model');
    expect(up.model.parent.dataset.inputs[0]).toEqual({path: 'data/sample/corpus.jsonl', sha256: 'a'.repeat(64), records: 480});
    l.close();
  });

  it('walks forward from a dataset to the runs and deployments that used it', () => {
    const dir = tempDir();
    seed(dir);
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    const r = lineage(l, 'ds-000000000001');
    expect(r.downstream.runs.map((x) => x.id)).toEqual(['r-base', 'r-ft']);
    expect(r.downstream.deployments).toEqual([{id: 'dep-1', name: 'demo', status: 'running', modelRunId: 'r-ft'}]);
    l.close();
  });

  it('through the CLI: a tree for people, JSON for scripts, and exit 9 for an unknown ref', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\n');
    seed(dir);
    const human = await runCli(['lineage', 'r-ft'], {cwd: dir});
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/finetune run r-ft/);
    expect(human.stdout).toMatch(/from base:\n\s+train run r-base/);
    expect(human.stdout).toMatch(/git deadbeefca \(dirty\)/);
    expect(human.stdout).toMatch(/used by:\n\s+deployment demo/);
    const json = await runCli(['lineage', 'r-base', '--json'], {cwd: dir});
    expect(json.json.downstream.runs).toEqual([{id: 'r-ft', kind: 'finetune', status: 'queued', via: 'parent'}]);
    const missing = await runCli(['lineage', 'nope', '--json'], {cwd: dir});
    expect(missing.code).toBe(9);
    expect(missing.json.error.code).toBe('NOT_FOUND');
  });
});
