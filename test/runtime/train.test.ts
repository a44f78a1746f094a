/**
 * End to end through the real CLI and the real Python trainer: train -> metrics, model, parity;
 * runs show / compare; finetune with LoRA from that run; export; --dry-run estimate from history.
 */
import {existsSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {makeProject, withLedger} from './helpers.js';

describe('llmops train / finetune / export (real trainer, micro model)', () => {
  let project: ReturnType<typeof makeProject>;
  let trainId: string;
  let trainJson: any;

  beforeAll(async () => {
    project = makeProject();
    const r = await runCli(['train', '--max-steps', '20', '--json'], {cwd: project.dir});
    trainJson = r.json;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    trainId = r.json.id;
  }, 180_000);

  it('trains to succeeded with its metrics, lineage and cost in the ledger', () => {
    expect(trainJson.status).toBe('succeeded');
    expect(trainJson.datasetId).toBe(project.datasetId);
    withLedger(project.dbFile, (l) => {
      const run = l.getRun(trainId);
      expect(run.status).toBe('succeeded');
      expect(run.exit_code).toBe(0);
      const loss = l.metricSeries(trainId, 'loss');
      expect(loss.length).toBeGreaterThan(5);
      expect(loss.at(-1)!.step).toBe(20);
      expect(loss.at(-1)!.value).toBeLessThan(loss[0]!.value);
      const lineage = JSON.parse(run.lineage_json);
      expect(lineage.dataset_id).toBe(project.datasetId);
      expect(lineage.config_hash).toMatch(/^[0-9a-f]{16}$/);
      expect(lineage.seed).toBe(1337);
      expect(lineage.env.torch).toMatch(/^\d+\.\d+/);
      expect(lineage.env.python).toMatch(/^3\./);
      const phases = l.runCost(trainId).byPhase;
      expect(Object.keys(phases)).toEqual(expect.arrayContaining(['queue', 'setup', 'run']));
      const statuses = l.events(trainId).filter((e) => e.type === 'status').map((e) => JSON.parse(e.data_json).status);
      expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    });
  });

  it('exports the model (ONNX + tokenizer) and registers it, with parity checked when parity.ts exists', () => {
    const model = trainJson.modelDir as string;
    expect(model).toBeTruthy();
    expect(existsSync(path.join(model, 'onnx', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(model, 'tokenizer.json'))).toBe(true);
    withLedger(project.dbFile, (l) => {
      const kinds = l.artifacts(trainId).map((a) => a.kind);
      expect(kinds).toEqual(expect.arrayContaining(['checkpoint', 'model', 'onnx']));
      const parity = JSON.parse(l.getRun(trainId).summary_json).parity;
      if (existsSync(path.join(__dirname, '..', '..', 'dist', 'lib', 'runtime', 'parity.js'))) {
        expect(parity.checked).toBe(true);
        expect(parity.ok).toBe(true);
        expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      } else {
        expect(parity.checked).toBe(false);
      }
    });
  });

  it('runs show --json adds lineage, metrics summary, cost and artifact paths', async () => {
    const r = await runCli(['runs', 'show', trainId.slice(0, 20), '--json'], {cwd: project.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.id).toBe(trainId);
    expect(r.json.lineage.dataset_id).toBe(project.datasetId);
    expect(r.json.metrics.loss.lastStep).toBe(20);
    expect(r.json.cost.usd).toBe(0);
    expect(r.json.artifacts.some((a: any) => a.kind === 'onnx' && a.sha256?.length === 64)).toBe(true);
    const human = await runCli(['runs', 'show', trainId], {cwd: project.dir});
    expect(human.stdout).toContain('loss');
    expect(human.stdout).toContain('succeeded');
  });

  it('finetunes with LoRA from that run, linked to it as parent', async () => {
    const r = await runCli(['finetune', '--base', trainId, '--method', 'lora', '--max-steps', '10', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    expect(r.json.kind).toBe('finetune');
    expect(r.json.parentRunId).toBe(trainId);
    expect(existsSync(path.join(r.json.modelDir, 'onnx', 'model.onnx'))).toBe(true);
    withLedger(project.dbFile, (l) => {
      const spec = JSON.parse(l.getRun(r.json.id).spec_json);
      expect(spec.trainerSpec.finetune.method).toBe('lora');
      expect(spec.trainerSpec.finetune.base).toBe(path.join(l.getRun(trainId).run_dir, 'model'));
      expect(l.metricSeries(r.json.id, 'loss').length).toBeGreaterThan(0);
    });
    const cmp = await runCli(['runs', 'compare', trainId, r.json.id, '--json'], {cwd: project.dir});
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.json.configDiff.kind).toEqual(['train', 'finetune']);
    expect(cmp.json.metrics.loss).toHaveLength(2);
  });

  it('llmops export re-exports from the latest checkpoint', async () => {
    const r = await runCli(['export', trainId, '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.checkpoint).toContain('step-000020');
    expect(existsSync(path.join(r.json.modelDir, 'onnx', 'model.onnx'))).toBe(true);
  });

  it('--dry-run prints the spec and an estimate from earlier runs, and launches nothing', async () => {
    const before = withLedger(project.dbFile, (l) => l.countRuns());
    const r = await runCli(['train', '--max-steps', '40', '--dry-run', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.dryRun).toBe(true);
    expect(r.json.spec.max_steps).toBe(40);
    expect(r.json.spec.dataset.id).toBe(project.datasetId);
    expect(r.json.estimate.basis).toBe('history');
    expect(r.json.estimate.steps).toBe(40);
    expect(r.json.estimate.seconds).toBeGreaterThan(0);
    expect(withLedger(project.dbFile, (l) => l.countRuns())).toBe(before);
    const other = await runCli(['train', '--preset', 'small', '--dry-run'], {cwd: project.dir});
    expect(other.stdout).toContain('no history');
  });
});
