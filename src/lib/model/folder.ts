/**
 * A model folder as the Hugging Face ecosystem lays it out (transformers / optimum /
 * onnx-community / transformers.js), or llmops's own export: the architecture numbers from
 * config.json in each family's own keys, the ONNX graph to run, the special tokens and the chat
 * template. Data prep, training, serving and eval all read a model through this one function.
 *
 * Every problem names the file and the key, and says what was expected.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError, notFoundError} from '../errors.js';
import {intIds, readAddBos, readJsonObject, tokenIdOf, tokenString} from './files.js';

export const FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma', 'gemma2', 'gpt2', 'llmops-gpt'] as const;
export type Family = (typeof FAMILIES)[number];

export interface ModelFolder {
  dir: string;
  family: Family;
  modelType: string;
  nLayer: number;
  nHead: number;
  /** Key/value heads: fewer than nHead under grouped-query attention. */
  nKvHead: number;
  headDim: number;
  hidden: number;
  vocabSize: number;
  contextLength: number;
  bosId: number | null;
  /** Every id that ends a generation: generation_config.json, config.json and the tokenizer's eos. */
  eosIds: number[];
  /** Whether the tokenizer adds BOS to plain text (tokenizer_config add_bos_token, else its post-processor). */
  addBos: boolean;
  /** The chosen graph, null when the folder has no ONNX yet (a training checkpoint). */
  onnxPath: string | null;
  /** External weight files of the chosen graph (`model.onnx_data`, `model.onnx.data`, ...). */
  onnxDataPaths: string[];
  /** 'fp32' | 'fp16' | 'q4' | 'q4f16' | 'int8' | 'uint8' | 'q8' | 'bnb4' of the chosen graph. */
  dtype: string | null;
  /** Every dtype the folder has a graph for, best first for a CPU. */
  dtypes: string[];
  /** Jinja, from chat_template.jinja or tokenizer_config.json's chat_template; null: none. */
  chatTemplate: string | null;
  /** Where the chat template came from (for error messages). */
  chatTemplateFile: string | null;
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  unkToken: string | null;
  runId: string | null;
}

/** ONNX graph file per dtype, in the order chosen for a CPU when --dtype is not given. */
const GRAPHS: Array<{dtype: string; file: string}> = [
  {dtype: 'fp32', file: 'model.onnx'},
  {dtype: 'q8', file: 'model_quantized.onnx'},
  {dtype: 'int8', file: 'model_int8.onnx'},
  {dtype: 'uint8', file: 'model_uint8.onnx'},
  {dtype: 'q4', file: 'model_q4.onnx'},
  {dtype: 'fp16', file: 'model_fp16.onnx'},
  {dtype: 'q4f16', file: 'model_q4f16.onnx'},
  {dtype: 'bnb4', file: 'model_bnb4.onnx'},
];
export const DTYPES = GRAPHS.map((g) => g.dtype);
const DTYPE_ALIASES: Record<string, string> = {float32: 'fp32', float16: 'fp16', quantized: 'q8'};

/** The graph file name of a dtype (`q4` -> `model_q4.onnx`), for downloads. */
export function graphFileOf(dtype: string): string | undefined {
  return GRAPHS.find((g) => g.dtype === (DTYPE_ALIASES[dtype] ?? dtype))?.file;
}

/** External data files that belong to a graph, as optimum and onnx-community name them. */
export function externalDataOf(graph: string): string[] {
  const dir = path.dirname(graph);
  const base = path.basename(graph);
  const out: string[] = [];
  for (const name of [`${base}_data`, `${base}.data`]) {
    if (existsSync(path.join(dir, name))) out.push(path.join(dir, name));
    // Graphs past 2 GB split their weights into numbered chunks (model.onnx_data_1, ...).
    for (let i = 1; existsSync(path.join(dir, `${name}_${i}`)); i++) out.push(path.join(dir, `${name}_${i}`));
  }
  return out;
}

interface Arch {
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  hidden: number;
  vocabSize: number;
  contextLength: number;
}

function positiveInt(cfg: Record<string, unknown>, keys: string[], file: string, fallback?: number): number {
  for (const k of keys) {
    const v = cfg[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw inputError(`${file}: key "${k}" must be a positive integer, found ${JSON.stringify(v)}.`, {
        fix: 'Try this: fix config.json, or re-export the model (`llmops export`).',
      });
    }
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw inputError(`${file}: missing key "${keys.join('" or "')}" (a positive integer).`, {
    fix: 'Try this: use the config.json that came with the checkpoint, or re-export the model (`llmops export`).',
  });
}

/** Architecture numbers from each family's own config keys. */
function readArch(family: Family, cfg: Record<string, unknown>, file: string): Arch {
  const gptStyle = family === 'gpt2' || family === 'llmops-gpt';
  const nLayer = positiveInt(cfg, gptStyle ? ['n_layer', 'num_hidden_layers'] : ['num_hidden_layers'], file);
  const nHead = positiveInt(cfg, gptStyle ? ['n_head', 'num_attention_heads'] : ['num_attention_heads'], file);
  const hidden = positiveInt(cfg, gptStyle ? ['n_embd', 'hidden_size'] : ['hidden_size'], file);
  // GPT-2 has no grouped-query attention; the others default to one kv head per head.
  const nKvHead = gptStyle ? nHead : positiveInt(cfg, ['num_key_value_heads'], file, nHead);
  if (nHead % nKvHead !== 0) {
    throw inputError(`${file}: num_attention_heads (${nHead}) must be a multiple of num_key_value_heads (${nKvHead}).`);
  }
  const headDim = positiveInt(cfg, ['head_dim'], file, Math.floor(hidden / nHead));
  return {
    nLayer,
    nHead,
    nKvHead,
    headDim,
    hidden,
    vocabSize: positiveInt(cfg, ['vocab_size'], file),
    contextLength: positiveInt(cfg, gptStyle ? ['n_positions', 'n_ctx', 'max_position_embeddings'] : ['max_position_embeddings'], file),
  };
}

function familyOf(cfg: Record<string, unknown>, dir: string, file: string): {family: Family; modelType: string} {
  let modelType = cfg.model_type;
  // llmops's first exports had no model_type; they are recognised by their metadata file.
  if (modelType === undefined && existsSync(path.join(dir, 'llmops_model.json'))) modelType = 'llmops-gpt';
  if (typeof modelType !== 'string') {
    throw inputError(`${file}: missing key "model_type" (one of ${FAMILIES.join(', ')}).`, {
      fix: 'Try this: use the config.json that came with the checkpoint.',
    });
  }
  if (!(FAMILIES as readonly string[]).includes(modelType)) {
    throw inputError(
      `${file}: model_type "${modelType}" is not supported; llmops serves and fine-tunes ${FAMILIES.join(', ')}.`,
      {fix: 'Try this: pick a model of a supported family (for example a Llama, Qwen2 or GPT-2 checkpoint).', details: {modelType, supported: [...FAMILIES]}},
    );
  }
  return {family: modelType as Family, modelType};
}

/** The graphs the folder has (onnx/ as onnx-community writes it, or the folder root as optimum does). */
function availableGraphs(dir: string): Array<{dtype: string; path: string}> {
  const out: Array<{dtype: string; path: string}> = [];
  for (const g of GRAPHS) {
    for (const p of [path.join(dir, 'onnx', g.file), path.join(dir, g.file)]) {
      if (existsSync(p)) {
        out.push({dtype: g.dtype, path: p});
        break;
      }
    }
  }
  return out;
}

function chooseGraph(dir: string, wanted: string | undefined): {onnxPath: string | null; dtype: string | null; dtypes: string[]} {
  const graphs = availableGraphs(dir);
  const dtypes = graphs.map((g) => g.dtype);
  if (wanted === undefined || wanted === 'auto') {
    return {onnxPath: graphs[0]?.path ?? null, dtype: graphs[0]?.dtype ?? null, dtypes};
  }
  const dtype = DTYPE_ALIASES[wanted] ?? wanted;
  if (!DTYPES.includes(dtype)) {
    throw inputError(`--dtype "${wanted}" is not a known ONNX dtype; expected one of ${DTYPES.join(', ')}.`);
  }
  const hit = graphs.find((g) => g.dtype === dtype);
  if (!hit) {
    throw inputError(
      `${dir} has no ${dtype} graph (onnx/${graphFileOf(dtype)}); it has ${dtypes.length ? dtypes.join(', ') : 'no ONNX graph'}.`,
      {fix: dtypes.length ? `Try this: --dtype ${dtypes[0]}, or export that dtype (\`llmops export --dtype ${dtype}\`).` : 'Try this: `llmops export DIR` writes onnx/model.onnx.'},
    );
  }
  return {onnxPath: hit.path, dtype, dtypes};
}

/** The chat template: chat_template.jinja wins over tokenizer_config.json, as in transformers. */
function readChatTemplate(dir: string, tokCfg: Record<string, unknown>): {chatTemplate: string | null; chatTemplateFile: string | null} {
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return {chatTemplate: readFileSync(jinja, 'utf8'), chatTemplateFile: jinja};
  const file = path.join(dir, 'tokenizer_config.json');
  const t = tokCfg.chat_template;
  if (typeof t === 'string') return {chatTemplate: t, chatTemplateFile: file};
  // Some models ship several named templates; "default" is the chat one.
  if (Array.isArray(t)) {
    const named = t.find((x) => x && typeof x === 'object' && (x as {name?: unknown}).name === 'default') as {template?: unknown} | undefined;
    if (named && typeof named.template === 'string') return {chatTemplate: named.template, chatTemplateFile: file};
  }
  return {chatTemplate: null, chatTemplateFile: null};
}

export function loadModelFolder(dir: string, opts: {dtype?: string; runId?: string | null} = {}): ModelFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw notFoundError(`Model folder ${dir} does not exist.`, {
      fix: 'Try this: --model RUN_ID (see `llmops runs list`), the path of a model folder, or hf:OWNER/NAME.',
    });
  }
  const cfgFile = path.join(dir, 'config.json');
  if (!existsSync(cfgFile)) {
    throw inputError(`${dir} is not a model folder: it has no config.json${availableGraphs(dir).length ? '' : ' and no onnx/model.onnx'}.`, {
      fix: 'Try this: point --model at an exported model (RUN_DIR/model), a Hugging Face model folder, or hf:OWNER/NAME.',
    });
  }
  const cfg = readJsonObject(cfgFile, true)!;
  const {family, modelType} = familyOf(cfg, dir, cfgFile);
  const arch = readArch(family, cfg, cfgFile);
  const gen = readJsonObject(path.join(dir, 'generation_config.json'), false) ?? {};
  const tokCfg = readJsonObject(path.join(dir, 'tokenizer_config.json'), false) ?? {};
  const tokJsonFile = path.join(dir, 'tokenizer.json');
  const tokJson = existsSync(tokJsonFile) ? readJsonObject(tokJsonFile, true) : undefined;
  const meta = readJsonObject(path.join(dir, 'llmops_model.json'), false) ?? {};
  const graph = chooseGraph(dir, opts.dtype);

  const bosToken = tokenString(tokCfg.bos_token);
  const eosToken = tokenString(tokCfg.eos_token);
  const idOf = (t: string | null) => (t !== null && tokJson ? tokenIdOf(tokJson, t) : undefined);
  const bosId = intIds(cfg.bos_token_id)[0] ?? intIds(gen.bos_token_id)[0] ?? idOf(bosToken) ?? null;
  const eosIds = [...new Set([...intIds(gen.eos_token_id), ...intIds(cfg.eos_token_id), ...intIds(idOf(eosToken))])];
  return {
    dir,
    family,
    modelType,
    ...arch,
    bosId,
    eosIds,
    addBos: readAddBos(tokCfg, tokJson, family),
    onnxPath: graph.onnxPath,
    onnxDataPaths: graph.onnxPath ? externalDataOf(graph.onnxPath) : [],
    dtype: graph.dtype,
    dtypes: graph.dtypes,
    ...readChatTemplate(dir, tokCfg),
    bosToken,
    eosToken,
    padToken: tokenString(tokCfg.pad_token),
    unkToken: tokenString(tokCfg.unk_token),
    runId: opts.runId ?? (typeof meta.run_id === 'string' ? meta.run_id : null),
  };
}
