/**
 * The exported model folder (RUN_DIR/model, written by the trainer's export) as the server needs
 * it: the ONNX graph, the architecture numbers for the KV cache, the tokenizer and the chat format
 * the model was fine-tuned with. Every problem names the file and the key.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError, notFoundError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {isRegistryRef, resolveModelRef} from '../registry/resolve.js';

export interface ChatFormat {
  system: string;
  user: string;
  assistant: string;
  generation_prompt: string;
  stop: string[];
}

export interface ModelSpec {
  dir: string;
  onnxPath: string;
  nLayer: number;
  nHead: number;
  headDim: number;
  vocabSize: number;
  /** Context length: prompt plus completion tokens may not exceed it. */
  nPositions: number;
  bosId: number | null;
  /** Token ids that end a generation (generation_config eos list plus config eos). */
  eosIds: number[];
  chatFormat: ChatFormat;
  runId: string | null;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

const DEFAULT_CHAT: ChatFormat = {
  system: '<|system|>\n{content}<|end|>\n',
  user: '<|user|>\n{content}<|end|>\n',
  assistant: '<|assistant|>\n{content}<|end|>\n',
  generation_prompt: '<|assistant|>\n',
  stop: ['<|end|>', '<|eos|>'],
};

function readJson(file: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    throw inputError(`The model folder has no ${path.basename(file)} (${file}).`, {
      fix: 'Try this: point --model at a run whose export finished (RUN_DIR/model), or rerun the export.',
    });
  }
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (error) {
    throw inputError(`${file} is not valid JSON: ${(error as Error).message}.`, {
      fix: 'Try this: re-export the model (python3 trainer/export.py --checkpoint DIR --out DIR).',
    });
  }
}

function intKey(obj: Record<string, unknown>, key: string, file: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw inputError(`${file}: key "${key}" must be a positive integer, found ${JSON.stringify(v)}.`, {
      fix: 'Try this: re-export the model; config.json is written by the trainer.',
    });
  }
  return v;
}

const ids = (v: unknown): number[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x));

export function loadModelSpec(dir: string, runId: string | null = null): ModelSpec {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw notFoundError(`Model folder ${dir} does not exist.`, {
      fix: 'Try this: --model RUN_ID (see `llmops runs list`) or the path of an exported model folder.',
    });
  }
  const onnxPath = path.join(dir, 'onnx', 'model.onnx');
  if (!existsSync(onnxPath)) {
    throw inputError(`The model folder ${dir} has no onnx/model.onnx.`, {
      fix: 'Try this: train with export enabled, or run python3 trainer/export.py --checkpoint DIR --out DIR.',
    });
  }
  const cfgFile = path.join(dir, 'config.json');
  const cfg = readJson(cfgFile, true)!;
  const nLayer = intKey(cfg, 'n_layer', cfgFile);
  const nHead = intKey(cfg, 'n_head', cfgFile);
  const headDim = typeof cfg.head_dim === 'number' ? intKey(cfg, 'head_dim', cfgFile) : intKey(cfg, 'n_embd', cfgFile) / nHead;
  const gen = readJson(path.join(dir, 'generation_config.json'), false) ?? {};
  const meta = readJson(path.join(dir, 'llmops_model.json'), false) ?? {};
  const chat = {...DEFAULT_CHAT, ...((meta.chat_format as Partial<ChatFormat> | undefined) ?? {})};
  for (const k of ['system', 'user', 'assistant'] as const) {
    if (typeof chat[k] !== 'string' || !chat[k].includes('{content}')) {
      throw inputError(`${path.join(dir, 'llmops_model.json')}: chat_format.${k} must be a string containing {content}.`, {
        fix: 'Try this: re-export the model with the current trainer.',
      });
    }
  }
  const eosIds = [...new Set([...ids(gen.eos_token_id), ...ids(cfg.eos_token_id)])];
  return {
    dir,
    onnxPath,
    nLayer,
    nHead,
    headDim,
    vocabSize: intKey(cfg, 'vocab_size', cfgFile),
    nPositions: intKey(cfg, 'n_positions', cfgFile),
    bosId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : null,
    eosIds,
    chatFormat: {...chat, stop: Array.isArray(chat.stop) ? chat.stop.filter((s) => typeof s === 'string') : []},
    runId: runId ?? (typeof meta.run_id === 'string' ? meta.run_id : null),
    tokenizerJson: readJson(path.join(dir, 'tokenizer.json'), true)!,
    tokenizerConfig: readJson(path.join(dir, 'tokenizer_config.json'), false) ?? {},
  };
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
