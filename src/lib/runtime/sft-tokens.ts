/**
 * Fine-tuning data for a Hugging Face base, tokenized in Node with the SAME chat template and
 * tokenizer the server uses (src/lib/model), so training and serving cannot disagree. The trainer
 * reads token ids and loss masks; it never renders or tokenizes text itself.
 *
 * RUN_DIR/tokens/{train,val}.jsonl: one record per line, {"id", "ids": [...], "mask": [...]}
 * (mask[i] = 1 where token i is a target: assistant turns of chats, every token of text records).
 * RUN_DIR/tokens/meta.json: format, per-split mode ("chat": one conversation per row, padded;
 * "packed": records end to end) and counts.
 */
import {createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import {inputError} from '../errors.js';
import type {ChatMessage, ModelFolder, ModelTokenizer} from '../model/index.js';

export const TOKENS_FORMAT = 'llmops-sft-tokens';
/** Families the trainer's own modules (templates/trainer/hf_models) fine-tune without transformers. */
export const NATIVE_FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma', 'gemma2', 'gpt2'];

export interface SplitTokens {
  mode: 'chat' | 'packed';
  records: number;
  skipped: number;
  tokens: number;
  maxLength: number;
}

export interface TokensMeta {
  format: typeof TOKENS_FORMAT;
  version: 1;
  base: string;
  splits: Record<string, SplitTokens>;
}

/** True when `dir` is a Hugging Face checkpoint of a family the trainer fine-tunes natively. */
export function isNativeHfBase(dir: string): boolean {
  const cfg = path.join(dir, 'config.json');
  if (!existsSync(cfg) || !existsSync(path.join(dir, 'tokenizer.json'))) return false;
  try {
    return NATIVE_FAMILIES.includes(String((JSON.parse(readFileSync(cfg, 'utf8')) as {model_type?: unknown}).model_type));
  } catch {
    return false;
  }
}

interface Rec {
  id?: unknown;
  text?: unknown;
  messages?: unknown;
}

async function* records(file: string): AsyncGenerator<{rec: Rec; line: number}> {
  const rl = readline.createInterface({input: createReadStream(file, 'utf8'), crlfDelay: Infinity});
  let line = 0;
  for await (const raw of rl) {
    line++;
    if (!raw.trim()) continue;
    let rec: Rec;
    try {
      rec = JSON.parse(raw) as Rec;
    } catch (error) {
      throw inputError(`${file}:${line}: not JSON (${(error as Error).message}).`);
    }
    yield {rec, line};
  }
}

type Model = typeof import('../model/index.js');

function encodeRecord(m: Model, model: ModelFolder, tok: ModelTokenizer, rec: Rec, where: string): {ids: number[]; mask: number[]} | null {
  if (Array.isArray(rec.messages)) {
    const msgs = rec.messages as ChatMessage[];
    for (const [i, msg] of msgs.entries()) {
      if (!msg || typeof msg.role !== 'string' || typeof msg.content !== 'string') {
        throw inputError(`${where}: messages[${i}]: expected {"role": string, "content": string}.`);
      }
    }
    return m.tokenizeChat(model, tok, msgs);
  }
  if (typeof rec.text === 'string') {
    const ids = tok.encode(rec.text, {addSpecialTokens: true});
    if (tok.eosIds.length > 0 && ids.at(-1) !== tok.eosIds[0]) ids.push(tok.eosIds[0]!);
    return {ids, mask: ids.map(() => 1)};
  }
  throw inputError(`${where}: expected a "text" string or a "messages" list.`);
}

/**
 * The chat-template fields of a folder: the model folder's when it has a config.json, else (a
 * tokenizer-only folder, for training from scratch) those of its tokenizer_config.json.
 */
function templateModel(m: Model, files: typeof import('../model/files.js'), dir: string): ModelFolder {
  if (existsSync(path.join(dir, 'config.json'))) return m.loadModelFolder(dir);
  const tc = files.readJsonObject(path.join(dir, 'tokenizer_config.json'), false) ?? {};
  const jinja = path.join(dir, 'chat_template.jinja');
  const fromJinja = existsSync(jinja) ? readFileSync(jinja, 'utf8') : null;
  return {
    dir,
    chatTemplate: fromJinja ?? (typeof tc.chat_template === 'string' ? tc.chat_template : null),
    chatTemplateFile: fromJinja ? jinja : typeof tc.chat_template === 'string' ? path.join(dir, 'tokenizer_config.json') : null,
    bosToken: files.tokenString(tc.bos_token),
    eosToken: files.tokenString(tc.eos_token),
    padToken: files.tokenString(tc.pad_token),
    unkToken: files.tokenString(tc.unk_token),
  } as ModelFolder;
}

/**
 * Tokenizes dataDir/{train,val}.jsonl with the tokenizer (and chat template) of `dir` into outDir.
 * finetune, as the trainer did before: when a split has chat records, only they are used (one
 * conversation per row, loss on the assistant turns); otherwise text records are packed with loss
 * on every token. train: every record, packed, every token learnt (chats rendered by the template).
 */
export async function writeTokens(dir: string, dataDir: string, outDir: string, kind: 'finetune' | 'train' = 'finetune'): Promise<TokensMeta> {
  // Loaded here, not at the top: spec.ts imports this module and most commands never tokenize.
  const m = await import('../model/index.js');
  const model = templateModel(m, await import('../model/files.js'), dir);
  const tok = m.ModelTokenizer.fromFolder(dir);
  mkdirSync(outDir, {recursive: true});
  const meta: TokensMeta = {format: TOKENS_FORMAT, version: 1, base: dir, splits: {}};
  for (const split of ['train', 'val']) {
    const file = path.join(dataDir, `${split}.jsonl`);
    if (!existsSync(file)) continue;
    const chat: string[] = [];
    const text: string[] = [];
    let skipped = 0;
    const stats = {chat: {tokens: 0, max: 0}, text: {tokens: 0, max: 0}};
    for await (const {rec, line} of records(file)) {
      const enc = encodeRecord(m, model, tok, rec, `${file}:${line}`);
      if (!enc) continue;
      const isChat = kind === 'finetune' && Array.isArray(rec.messages);
      if (kind === 'train') enc.mask.fill(1);
      if (isChat && !enc.mask.some((x) => x === 1)) {
        skipped++; // a conversation without an assistant turn teaches nothing
        continue;
      }
      const row = JSON.stringify({id: rec.id ?? `${split}:${line}`, ids: enc.ids, mask: enc.mask});
      (isChat ? chat : text).push(row);
      const s = isChat ? stats.chat : stats.text;
      s.tokens += enc.ids.length;
      s.max = Math.max(s.max, enc.ids.length);
    }
    const mode = chat.length > 0 ? 'chat' : 'packed';
    const rows = mode === 'chat' ? chat : text;
    const s = mode === 'chat' ? stats.chat : stats.text;
    writeFileSync(path.join(outDir, `${split}.jsonl`), rows.join('\n') + (rows.length ? '\n' : ''));
    meta.splits[split] = {mode, records: rows.length, skipped: skipped + (mode === 'chat' ? text.length : 0), tokens: s.tokens, maxLength: s.max};
  }
  writeFileSync(path.join(outDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}
