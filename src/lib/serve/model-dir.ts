/**
 * The model folder the server runs: a Hugging Face / onnx-community folder or llmops's own export,
 * read through src/lib/model (the one implementation), plus what serving needs on top: an ONNX
 * graph and a tokenizer.json. `--model` resolution (folder, run id) lives here too.
 */
import {existsSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError, notFoundError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {loadModelFolder, type ModelFolder} from '../model/folder.js';
import {isRegistryRef, resolveModelRef} from '../registry/resolve.js';

/** A model folder that can be served: it has an ONNX graph and a tokenizer. */
export function loadServableModel(dir: string, opts: {runId?: string | null; dtype?: string} = {}): ModelFolder {
  const model = loadModelFolder(dir, opts);
  if (!model.onnxPath) {
    throw inputError(`${dir} is a ${model.family} checkpoint without ONNX (no onnx/model.onnx or dtype variant), so it cannot be served yet.`, {
      fix: `Try this: llmops export ${dir} --out ${dir}-onnx, then llmops deploy --model ${dir}-onnx.`,
    });
  }
  if (!existsSync(path.join(dir, 'tokenizer.json'))) {
    throw inputError(`${dir} has no tokenizer.json; the server needs it to read prompts and write text.`, {
      fix: 'Try this: copy tokenizer.json (and tokenizer_config.json) from the model the weights came from.',
    });
  }
  return model;
}

/**
 * `--model RUN_ID|DIR`: an existing folder wins; otherwise a run id (or unique prefix) from the
 * ledger, whose model lives in RUN_DIR/model.
 */
export function resolveModel(model: string, ledger: Ledger | undefined, cwd = process.cwd()): {dir: string; runId: string | null} {
  if (ledger && isRegistryRef(cwd, model)) {
    // NAME@ALIAS / NAME@vN of the model registry.
    const r = resolveModelRef(ledger, cwd, model);
    if (r.hfRef) {
      throw inputError(`${model} is ${r.hfRef}, a Hugging Face model that is not downloaded into a folder.`, {
        fix: 'Try this: register the downloaded folder instead (`llmops models register NAME DIR`).',
      });
    }
    return {dir: r.dir!, runId: r.runId ?? null};
  }
  const asDir = path.resolve(cwd, model);
  if (existsSync(asDir) && statSync(asDir).isDirectory()) {
    // A run directory itself is accepted too: its model is in model/.
    const inner = path.join(asDir, 'model');
    if (!existsSync(path.join(asDir, 'onnx')) && existsSync(path.join(inner, 'onnx'))) return {dir: inner, runId: null};
    return {dir: asDir, runId: null};
  }
  const run = ledger?.findRun(model);
  if (!run) {
    throw notFoundError(`"${model}" is neither a model folder nor a run id in the ledger.`, {
      fix: 'Try this: `llmops runs list` for run ids, or pass the path of an exported model folder.',
    });
  }
  return {dir: path.join(run.run_dir, 'model'), runId: run.id};
}
