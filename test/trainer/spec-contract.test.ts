/**
 * One run-spec contract: the TrainerSpec zod schema (src/lib/domain/trainer-spec.ts) is the
 * source; templates/trainer/spec.schema.json is generated from it and is what the real trainer
 * (spec.py, under Python) validates spec.json against; presets.json is read by both sides, so a
 * bad preset is refused when the config loads or the run is prepared; and --resume refuses flags
 * it would otherwise have to drop.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {trainerSpecJsonSchema} from '../../src/lib/domain/trainer-spec.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {REPO_ROOT, runCli} from '../helpers/cli.js';
import {makeSpec, makeTextDataset, PYTHON, TRAINER_DIR, tempDir} from './helpers.js';

/** What the real spec.py says about a spec: 'ok', or its SpecError message. */
function specPy(spec: unknown): string {
  const root = tempDir('llmops-spec-');
  const file = path.join(root, 'spec.json');
  writeFileSync(file, JSON.stringify(spec));
  const r = spawnSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(TRAINER_DIR)})
from spec import load_spec, SpecError
try:
    load_spec(sys.argv[1]); print("ok")
except SpecError as e:
    print(e)`, file], {encoding: 'utf8'});
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

const LORA = {r: 8, alpha: 16, dropout: 0, targets: ['qkv', 'proj']};

describe('the trainer spec contract', () => {
  it('templates/trainer/spec.schema.json is the JSON Schema of TrainerSpec (run `npm run schemas` when this fails)', () => {
    const shipped = JSON.parse(readFileSync(path.join(REPO_ROOT, 'templates', 'trainer', 'spec.schema.json'), 'utf8'));
    expect(shipped).toEqual(trainerSpecJsonSchema());
  });

  it('spec.py accepts a complete spec and refuses wrong types, missing and unknown keys, naming the key', () => {
    const root = tempDir('llmops-spec-');
    const ds = makeTextDataset(root, 5);
    const good = makeSpec(root, 'r', ds);
    expect(specPy(good)).toBe('ok');
    expect(specPy({...good, kind: 'finetune', finetune: {base: ds, method: 'lora', lora: LORA}})).toBe('ok');

    expect(specPy({...good, seed: 1.5})).toBe('spec.seed: expected an integer, got 1.5');
    expect(specPy({...good, max_steps: 0})).toBe('spec.max_steps: expected an integer > 0, got 0');
    expect(specPy({...good, overrides: {lr: [1]}})).toMatch(/^spec\.overrides\.lr: expected a string or a number or a boolean, got \[1\]$/);
    const {preset: _p, ...noPreset} = good;
    expect(specPy(noPreset)).toBe('spec.preset: missing; expected a non-empty string');
    expect(specPy({...good, presett: 'tiny'})).toMatch(/^spec\.presett: unknown key; known: version, run_id, kind/);
    expect(specPy({...good, kind: 'finetune', finetune: {base: ds, method: 'lora', lora: {...LORA, r: 0}}})).toBe(
      'spec.finetune.lora.r: expected an integer > 0, got 0',
    );
    expect(specPy({...good, kind: 'finetune', finetune: {base: ds, method: 'qlora', lora: LORA}})).toBe(
      'spec.finetune.method: expected one of "lora", "full", got \'qlora\'',
    );
    expect(specPy({...good, version: 2})).toMatch(/^spec\.version: this trainer reads version 1, got 2/);
    // The hint names the command that exists.
    expect(specPy({...good, dataset: {id: null, dir: path.join(root, 'nope')}})).toContain('`llmops data prep`');
  });

  it('an unknown preset fails at config load (line and did-you-mean) and at --preset, before any run is recorded', async () => {
    const dir = tempDir('llmops-spec-cli-');
    expect((await runCli(['init', '--yes', '--json'], {cwd: dir})).code).toBe(0);
    const yaml = path.join(dir, 'llmops.yaml');
    const original = readFileSync(yaml, 'utf8');
    writeFileSync(yaml, original.replace('preset: tiny ', 'preset: tinyy'));
    const shown = await runCli(['config', 'show'], {cwd: dir});
    expect(shown.code).toBe(3);
    expect(shown.stderr).toMatch(/llmops\.yaml:\d+/);
    expect(shown.stderr).toContain('train.preset');
    expect(shown.stderr).toContain('"tiny"');

    writeFileSync(yaml, original);
    const flag = await runCli(['train', '--preset', 'smal', '--dry-run'], {cwd: dir});
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--preset: no preset "smal"; did you mean "small"?');
    const set = await runCli(['train', '--set', 'learning_rat=0.1', '--dry-run'], {cwd: dir});
    expect(set.code).toBe(2);
    expect(set.stderr).toContain('"learning_rat" is not a trainer hyper-parameter; did you mean "learning_rate"?');
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    expect(l.countRuns()).toBe(0);
    l.close();
  });

  it('--resume refuses --preset, --seed and --set instead of dropping them, and says what may change', async () => {
    const dir = tempDir('llmops-spec-resume-');
    expect((await runCli(['init', '--yes', '--json'], {cwd: dir})).code).toBe(0);
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    l.insertRun({id: 'r-parent-0001', kind: 'train', backend: 'local', backendType: 'local', runDir: path.join(dir, 'r'), spec: {command: ['python3']}});
    l.close();
    const r = await runCli(['train', '--resume', 'r-parent-0001', '--preset', 'small', '--seed', '3', '--set', 'lr=0.1', '--json'], {cwd: dir});
    expect(r.code).toBe(2);
    expect(r.json.error.message).toContain('--preset, --seed, --set cannot change on resume');
    expect(r.json.error.message).toContain('--max-steps');
    expect(r.json.error.details.refused).toEqual(['--preset', '--seed', '--set']);
  });
});
