/**
 * Stage 7 with a model's own tokenizer: text records encoded as the model reads them (its BOS/EOS
 * rules), chat records on their rendered chat template, so the counts match what training sees.
 * Tokenizer and template come from src/lib/model (the one implementation); this module only
 * decides what to encode.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import {createHash} from 'node:crypto';
import path from 'node:path';
import {ChatTemplateError, loadModelFolder, ModelTokenizer, renderChat} from '../model/index.js';
import {readJsonObject, tokenString} from '../model/files.js';
import type {Canonical, Message} from './records.js';

/** Tokens of a record, or a thrown ChatTemplateError when the model's template refuses it. */
export interface RecordEncoder {
  count(c: Canonical): number;
  /** Text: the text cut to at most `max` tokens (as the model encodes it). */
  truncateText(text: string, max: number): string;
}

/** The folder that holds a tokenizer: the folder itself, or the folder of a tokenizer.json. */
export function tokenizerDir(p: string): string {
  return statSync(p).isDirectory() ? p : path.dirname(p);
}

/** sha256 over tokenizer.json and tokenizer_config.json (the chat template lives there): the tokenizer's identity. */
export function tokenizerHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) {
    const p = path.join(dir, f);
    if (existsSync(p)) h.update(f).update(readFileSync(p));
  }
  return h.digest('hex');
}

function templateModel(dir: string) {
  if (existsSync(path.join(dir, 'config.json'))) return loadModelFolder(dir);
  // A folder with only the tokenizer files: the template and special tokens of tokenizer_config.json.
  const cfg = readJsonObject(path.join(dir, 'tokenizer_config.json'), false) ?? {};
  return {
    chatTemplate: typeof cfg.chat_template === 'string' ? cfg.chat_template : null,
    chatTemplateFile: null,
    bosToken: tokenString(cfg.bos_token),
    eosToken: tokenString(cfg.eos_token),
    padToken: tokenString(cfg.pad_token),
    unkToken: tokenString(cfg.unk_token),
  };
}

export function modelEncoder(p: string): RecordEncoder {
  const dir = tokenizerDir(p);
  const tok = ModelTokenizer.fromFolder(dir);
  const model = templateModel(dir);
  const render = (messages: Message[]) => renderChat(model, messages.map((m) => ({role: m.role, content: m.content})), {addGenerationPrompt: false});
  return {
    count: (c) => (c.kind === 'text' ? tok.encode(c.text, {addSpecialTokens: true}).length : tok.encode(render(c.messages), {addSpecialTokens: false}).length),
    truncateText: (text, max) => tok.decode(tok.encode(text).slice(0, Math.max(0, max))),
  };
}

export {ChatTemplateError};
