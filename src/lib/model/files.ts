/**
 * Reading the JSON files of a model folder. tokenizer.json files run to several megabytes and are
 * read by both the folder loader and the tokenizer, so parsed files are kept per path and mtime.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError} from '../errors.js';

const cache = new Map<string, {mtimeMs: number; size: number; value: Record<string, unknown>}>();

export function readJsonObject(file: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    throw inputError(`The model folder has no ${path.basename(file)} (${file}).`, {
      fix: 'Try this: point --model at a complete model folder (config.json, tokenizer.json, onnx/model.onnx), or re-export it with `llmops export`.',
    });
  }
  let st;
  let text: string;
  try {
    st = statSync(file);
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.value;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw inputError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, {
      fix: 'Try this: check the file permissions of the model folder.',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw inputError(`${file} is not valid JSON: ${(error as Error).message}.`, {
      fix: 'Try this: download or export the model again; the file is damaged.',
    });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw inputError(`${file}: expected a JSON object at the top level.`, {fix: 'Try this: download or export the model again.'});
  }
  cache.set(file, {mtimeMs: st.mtimeMs, size: st.size, value: value as Record<string, unknown>});
  return value as Record<string, unknown>;
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object {content: ...}. */
export function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as {content?: unknown}).content === 'string') return (v as {content: string}).content;
  return null;
}

/** The id of a token string in a tokenizer.json: added tokens first, then the model's vocab. */
export function tokenIdOf(tokJson: Record<string, unknown>, token: string): number | undefined {
  for (const t of (tokJson.added_tokens as Array<{id: number; content: string}> | undefined) ?? []) {
    if (t.content === token) return t.id;
  }
  const vocab = (tokJson.model as {vocab?: unknown} | undefined)?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    const id = (vocab as Record<string, unknown>)[token];
    if (typeof id === 'number') return id;
  }
  if (Array.isArray(vocab)) {
    // Unigram vocabularies are [piece, score] pairs; the id is the index.
    const i = vocab.findIndex((e) => Array.isArray(e) && e[0] === token);
    if (i !== -1) return i;
  }
  return undefined;
}

/**
 * Whether plain text gets a BOS: tokenizer_config.json's add_bos_token when set, else whether the
 * tokenizer.json post-processor starts a single sequence with a special token (Llama 3 style).
 */
export function readAddBos(tokCfg: Record<string, unknown>, tokJson: Record<string, unknown> | undefined, modelType?: unknown): boolean {
  // llmops's byte-level GPT is trained on <|bos|>{text}<|eos|> records; its exports predate
  // add_bos_token in their tokenizer_config.json, so plain text gets its BOS here.
  if (modelType === 'llmops-gpt') return true;
  if (typeof tokCfg.add_bos_token === 'boolean') return tokCfg.add_bos_token;
  const pp = tokJson?.post_processor as {type?: string; single?: unknown[]; processors?: unknown[]} | null | undefined;
  const templ = pp?.type === 'Sequence' ? (pp.processors as Array<typeof pp>).find((p) => p?.type === 'TemplateProcessing') : pp;
  const first = templ?.type === 'TemplateProcessing' ? (templ.single?.[0] as {SpecialToken?: unknown} | undefined) : undefined;
  return Boolean(first?.SpecialToken);
}


/** Token ids from a config value that may be one id or a list (generation_config.json's eos_token_id). */
export const intIds = (v: unknown): number[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
