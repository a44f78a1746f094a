/**
 * `llmops export DIR|hf:OWNER/NAME`: converts a Hugging Face checkpoint of a supported family
 * (llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gpt2) into the onnx-community layout with the trainer's
 * export_hf.py (torch only), then checks the graph against torch's logits with onnxruntime-node.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LlmopsError, inputError, usageError} from '../errors.js';
import {packagePath} from '../util/package-root.js';
import {capture} from '../system/exec.js';
import {checkModelParity, type ParityOutcome} from './supervisor.js';

export type ExportDtype = 'fp32' | 'fp16';

export interface CheckpointExportResult {
  /** What the user named: a folder or hf:OWNER/NAME. */
  source: string;
  /** The folder converted (the Hub cache's snapshot for hf:). */
  checkpoint: string;
  /** The Hub commit of an hf: source. */
  revision: string | null;
  modelDir: string;
  family: string;
  dtype: ExportDtype;
  params: number;
  onnx: string;
  parity: ParityOutcome;
  seconds: number;
}

/** True when `source` names a Hugging Face checkpoint rather than a run id. */
export function isCheckpointSource(source: string): boolean {
  return source.startsWith('hf:') || (existsSync(source) && statSync(source).isDirectory());
}

/** The project's trainer copy when it has export_hf.py (it may be edited), else the packaged one. */
export function trainerScript(loaded: LoadedConfig, name: string): string {
  const own = path.join(path.dirname(path.resolve(loaded.root, loaded.config.finetune.script)), name);
  return existsSync(own) ? own : packagePath('templates', 'trainer', name);
}

export function pythonOf(loaded: LoadedConfig): string {
  const local = loaded.config.backends.local;
  return (local?.type === 'local' ? local.python : undefined) ?? loaded.config.python;
}

function checkFolder(dir: string, source: string): void {
  const cfg = path.join(dir, 'config.json');
  if (!existsSync(cfg)) {
    throw inputError(`${source}: no config.json in ${dir}; this is not a Hugging Face model folder.`, {
      fix: 'Try this: point at a folder with config.json, model.safetensors and tokenizer.json, or pass a run id.',
    });
  }
  let type: unknown;
  try {
    type = (JSON.parse(readFileSync(cfg, 'utf8')) as {model_type?: unknown}).model_type;
  } catch (error) {
    throw inputError(`${cfg}: not JSON (${(error as Error).message}).`);
  }
  if (type === 'llmops-gpt') {
    throw inputError(`${dir} is already an llmops export (model_type "llmops-gpt", servable as is).`, {
      fix: 'Try this: `llmops deploy --model DIR` serves it; to re-export it from its checkpoint, pass its run id.',
    });
  }
}

function defaultOut(loaded: LoadedConfig, source: string, dtype: ExportDtype): string {
  const name = source.startsWith('hf:') ? source.slice(3).split('@')[0]!.replace('/', '--') : path.basename(path.resolve(source));
  return path.resolve(loaded.root, 'models', `${name}${dtype === 'fp16' ? '-fp16' : ''}`);
}

export async function exportCheckpoint(
  loaded: LoadedConfig,
  source: string,
  opts: {out?: string; dtype?: ExportDtype; progress?: (m: string) => void} = {},
): Promise<CheckpointExportResult> {
  const dtype = opts.dtype ?? 'fp32';
  let dir = path.resolve(source);
  let revision: string | null = null;
  if (source.startsWith('hf:')) {
    const {fetchHubBase} = await import('./hub-base.js');
    opts.progress?.(`Downloading ${source} from the Hugging Face Hub...`);
    const hub = await fetchHubBase(source, loaded, opts.progress ? {progress: opts.progress} : {});
    dir = hub.dir;
    revision = hub.revision;
  }
  checkFolder(dir, source);
  const out = opts.out ? path.resolve(opts.out) : defaultOut(loaded, source, dtype);
  if (out === dir) {
    throw usageError(`--out ${out} is the checkpoint itself; the export replaces its output folder.`, {fix: 'Try this: --out ANOTHER_DIR'});
  }
  const python = pythonOf(loaded);
  const script = trainerScript(loaded, 'export_hf.py');
  const args = [script, '--checkpoint', dir, '--out', out, '--dtype', dtype];
  opts.progress?.(`Converting ${dir} -> ${out} (${dtype})...`);
  const t0 = Date.now();
  const r = await capture(python, args, {cwd: loaded.root, env: {PYTHONUNBUFFERED: '1'}});
  if (!r.ok) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
    if (r.exitCode === 2) throw inputError(tail.replace(/^export: /, ''), {fix: 'Try this: check the folder named above.'});
    throw new LlmopsError(r.missing ? 'ENVIRONMENT' : 'RUN_FAILED', `Export of ${source} failed (${r.missing ? `cannot run ${python}` : `exit ${r.exitCode}`}):\n${tail}`, {
      fix: r.missing ? 'Try this: set `python:` in llmops.yaml to an interpreter with torch.' : `Try this: run it by hand: ${python} ${args.join(' ')}`,
    });
  }
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {onnx: string; family: string; params: number};
  const parity = await checkModelParity(out);
  if (parity.checked && !parity.ok) {
    throw new LlmopsError('RUN_FAILED', `Export of ${source} failed its parity check: max |onnx - torch| = ${parity.maxAbsDiff}${parity.note ? ` (${parity.note})` : ''}.`, {
      fix: 'Try this: re-run with --verbose and report it; the checkpoint itself is untouched.',
      details: {modelDir: out, parity},
    });
  }
  return {source, checkpoint: dir, revision, modelDir: out, family: res.family, dtype, params: res.params, onnx: res.onnx, parity,
    seconds: (Date.now() - t0) / 1000};
}
