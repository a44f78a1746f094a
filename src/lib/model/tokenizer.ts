/**
 * A model's tokenizer.json through @huggingface/tokenizers (byte-level BPE as GPT-2, Qwen and
 * Llama 3 use it; SentencePiece-style BPE with byte fallback as Llama 2, Mistral and Phi-3 use it;
 * added and special tokens), with the BOS/EOS rules of tokenizer_config.json.
 *
 * Special tokens are added only when asked (`addSpecialTokens`), and then only as the model's own
 * config says: BOS when add_bos_token (or the post-processor) says so, EOS when add_eos_token.
 * Chat prompts are rendered by the template, which writes its own BOS, so they are encoded
 * without special tokens: never a second BOS.
 */
import path from 'node:path';
import {Tokenizer} from '@huggingface/tokenizers';
import {inputError} from '../errors.js';
import {intIds, readAddBos, readJsonObject, tokenIdOf, tokenString} from './files.js';

export class ModelTokenizer {
  readonly bosId: number | null;
  readonly eosIds: number[];
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Added tokens by content, e.g. "<|im_end|>" -> 2. */
  readonly added = new Map<string, number>();
  /** Ids of the added tokens marked special (skipped by decode's skipSpecialTokens). */
  readonly specialIds = new Set<number>();
  /** decode([id]) by id, without and with skipSpecialTokens. */
  private readonly singles = [new Map<number, string>(), new Map<number, string>()] as const;

  private constructor(private readonly tok: Tokenizer, tokJson: Record<string, unknown>, tokCfg: Record<string, unknown>, dir: string) {
    for (const t of (tokJson.added_tokens as Array<{id: number; content: string; special?: boolean}> | undefined) ?? []) {
      this.added.set(t.content, t.id);
      if (t.special) this.specialIds.add(t.id);
    }
    const idOf = (v: unknown) => {
      const s = tokenString(v);
      return s === null ? undefined : tokenIdOf(tokJson, s);
    };
    const cfg = readJsonObject(path.join(dir, 'config.json'), false) ?? {};
    const gen = readJsonObject(path.join(dir, 'generation_config.json'), false) ?? {};
    this.bosId = idOf(tokCfg.bos_token) ?? intIds(cfg.bos_token_id)[0] ?? null;
    this.eosIds = [...new Set([...intIds(gen.eos_token_id), ...intIds(cfg.eos_token_id), ...intIds(idOf(tokCfg.eos_token))])];
    this.addBos = readAddBos(tokCfg, tokJson, cfg.model_type);
    this.addEos = tokCfg.add_eos_token === true;
  }

  /** tokenizer.json (required) and tokenizer_config.json (optional) of a folder. */
  static fromFolder(dir: string): ModelTokenizer {
    const tokJson = readJsonObject(path.join(dir, 'tokenizer.json'), true)!;
    const tokCfg = readJsonObject(path.join(dir, 'tokenizer_config.json'), false) ?? {};
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tokJson as never, tokCfg as never);
    } catch (error) {
      throw inputError(`${path.join(dir, 'tokenizer.json')} is not a tokenizer @huggingface/tokenizers can load: ${(error as Error).message}.`, {
        fix: 'Try this: use the tokenizer.json that came with the model (tokenizers 0.13 or newer format).',
        cause: error,
      });
    }
    return new ModelTokenizer(tok, tokJson, tokCfg, dir);
  }

  encode(text: string, opts: {addSpecialTokens?: boolean} = {}): number[] {
    // The post-processor is bypassed: which specials to add is decided here, from the config.
    const ids = this.tok.encode(text, {add_special_tokens: false}).ids;
    if (!opts.addSpecialTokens) return ids;
    if (this.addBos && this.bosId !== null && ids[0] !== this.bosId) ids.unshift(this.bosId);
    if (this.addEos && this.eosIds.length > 0) ids.push(this.eosIds[0]!);
    return ids;
  }

  decode(ids: number[], opts: {skipSpecialTokens?: boolean} = {}): string {
    if (ids.length === 0) return '';
    const skip = opts.skipSpecialTokens ?? false;
    if (ids.length > 1) return this.tok.decode(ids, {skip_special_tokens: skip});
    // Streaming decodes a one-token window at every step (tokenizer.ts in serve): a token's text
    // alone never changes, so it is decoded once (a Map bounded by the vocabulary).
    const memo = this.singles[skip ? 1 : 0];
    const known = memo.get(ids[0]!);
    if (known !== undefined) return known;
    const text = this.tok.decode(ids, {skip_special_tokens: skip});
    memo.set(ids[0]!, text);
    return text;
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
}
