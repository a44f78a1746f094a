/**
 * `llmops export RUN_ID`: re-exports a run's model from its latest checkpoint with the trainer's
 * export.py (ONNX + config + tokenizer), then checks parity with onnxruntime-node.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LlmopsError, inputError} from '../errors.js';
import type {Ledger, RunRow} from '../ledger/ledger.js';
import {registerArtifact} from './artifacts.js';
import {capture} from '../system/exec.js';
import {runPaths} from './paths.js';
import {latestCheckpoint} from './spec.js';
import {checkModelParity, type ParityOutcome} from './supervisor.js';

export interface ExportResult {
  id: string;
  checkpoint: string;
  modelDir: string;
  parity: ParityOutcome;
  seconds: number;
}

export async function exportRun(ledger: Ledger, loaded: LoadedConfig, run: RunRow, opts: {out?: string} = {}): Promise<ExportResult> {
  if (run.kind === 'command') {
    throw inputError(`Run ${run.id} is a brought-your-own command: llmops cannot export its model.`);
  }
  const checkpoint = latestCheckpoint(ledger, run);
  if (!checkpoint) {
    throw inputError(`Run ${run.id} has no checkpoint to export.`, {
      fix: 'Try this: a run writes checkpoints every checkpoint_every steps and at its end; pick another run (`llmops runs list`).',
    });
  }
  const section = run.kind === 'finetune' ? loaded.config.finetune : loaded.config.train;
  const script = path.join(path.dirname(path.resolve(loaded.root, section.script)), 'export.py');
  const local = loaded.config.backends.local;
  const python = (local?.type === 'local' ? local.python : undefined) ?? loaded.config.python;
  const modelDir = opts.out ? path.resolve(opts.out) : runPaths(run.run_dir).model;
  const t0 = Date.now();
  const r = await capture(python, [script, '--checkpoint', checkpoint, '--out', modelDir], {cwd: loaded.root, env: {PYTHONUNBUFFERED: '1'}});
  if (!r.ok) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    throw new LlmopsError(r.missing ? 'ENVIRONMENT' : 'RUN_FAILED', `Export of ${run.id} failed (${r.missing ? `cannot run ${python}` : `exit ${r.exitCode}`}):\n${tail}`, {
      fix: r.missing ? 'Try this: set `python:` in llmops.yaml to an interpreter with torch.' : `Try this: check the checkpoint ${checkpoint}, or run the command by hand: ${python} ${script} --checkpoint ${checkpoint} --out ${modelDir}`,
    });
  }
  const parity = await checkModelParity(modelDir);
  ledger.appendEvent(run.id, 'export', {checkpoint, modelDir, parity});
  if (parity.checked && !parity.ok) {
    throw new LlmopsError('RUN_FAILED', `Export of ${run.id} failed its parity check: max |onnx - torch| = ${parity.maxAbsDiff} > 1e-4.`, {
      fix: 'Try this: re-run with --verbose and report it; the torch checkpoint itself is fine.',
      details: {modelDir, parity},
    });
  }
  await registerArtifact(ledger, run.id, {kind: 'model', path: modelDir, meta: {exported_from: checkpoint, parity}});
  await registerArtifact(ledger, run.id, {kind: 'onnx', path: path.join(modelDir, 'onnx', 'model.onnx'), meta: {exported_from: checkpoint}});
  return {id: run.id, checkpoint, modelDir, parity, seconds: (Date.now() - t0) / 1000};
}
