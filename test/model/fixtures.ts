/**
 * Real tokenizers (test/fixtures/models, see its README) unpacked into temp model folders, with the
 * chat templates of several families as their models publish them, and the independent reference:
 * transformers.js loading the same folder offline.
 */
import {gunzipSync} from 'node:zlib';
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {REPO_ROOT} from '../helpers/cli.js';

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'models');

/** Chat templates verbatim from the families' tokenizer_config.json files. */
export const TEMPLATES = {
  llama3:
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
  gemma2:
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
  mistral:
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
  smollm2:
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
} as const;

export interface FolderOptions {
  /** Added special tokens appended after the vocabulary (as a model that adds chat tokens does). */
  addTokens?: string[];
  /** Keys merged into tokenizer_config.json (chat_template, bos_token, add_bos_token...). */
  tokenizerConfig?: Record<string, unknown>;
  /** config.json to write, if any. */
  config?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
}

const texts = new Map<string, string>();
const unpacked = (name: string): string => {
  if (!texts.has(name)) texts.set(name, gunzipSync(readFileSync(path.join(FIXTURES, name, 'tokenizer.json.gz'))).toString('utf8'));
  return texts.get(name)!;
};

let seq = 0;
const root = mkdtempSync(path.join(os.tmpdir(), 'llmops-model-fixtures-'));

/** A fresh model folder holding the fixture tokenizer `name` ('gpt2' | 'phi3'), patched as asked. */
export function fixtureFolder(name: 'gpt2' | 'phi3', opts: FolderOptions = {}): string {
  const dir = path.join(root, `${name}-${++seq}`);
  mkdirSync(dir, {recursive: true});
  const tok = JSON.parse(unpacked(name));
  const tokCfg = JSON.parse(readFileSync(path.join(FIXTURES, name, 'tokenizer_config.json'), 'utf8'));
  let next = Math.max(...Object.values(tok.model.vocab as Record<string, number>), ...tok.added_tokens.map((t: {id: number}) => t.id)) + 1;
  for (const content of opts.addTokens ?? []) {
    if (tok.added_tokens.some((t: {content: string}) => t.content === content)) continue;
    const entry = {id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true};
    tok.added_tokens.push(entry);
    tokCfg.added_tokens_decoder ??= {};
    tokCfg.added_tokens_decoder[String(entry.id)] = {content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true};
  }
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({...tokCfg, ...opts.tokenizerConfig}));
  if (opts.config) writeFileSync(path.join(dir, 'config.json'), JSON.stringify(opts.config));
  if (opts.generationConfig) writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(opts.generationConfig));
  return dir;
}

/** transformers.js's tokenizer for a folder, strictly offline. */
export async function referenceTokenizer(dir: string) {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  tf.env.localModelPath = path.dirname(dir) + path.sep;
  return tf.AutoTokenizer.from_pretrained(path.basename(dir));
}
