/**
 * The model's tokenizer.json through @huggingface/tokenizers (the same BPE/byte-level rules the
 * trainer wrote), plus the incremental decoding the streaming API needs.
 */
import {Tokenizer} from '@huggingface/tokenizers';
import type {ModelSpec} from './model-dir.js';

export class ModelTokenizer {
  private readonly tok: Tokenizer;
  /** Added (special) tokens by content, e.g. "<|end|>" -> 262. */
  readonly special = new Map<string, number>();

  constructor(spec: Pick<ModelSpec, 'tokenizerJson' | 'tokenizerConfig'>) {
    this.tok = new Tokenizer(spec.tokenizerJson as never, spec.tokenizerConfig as never);
    for (const t of (spec.tokenizerJson.added_tokens as Array<{id: number; content: string}> | undefined) ?? []) {
      this.special.set(t.content, t.id);
    }
  }

  encode(text: string): number[] {
    return this.tok.encode(text, {add_special_tokens: false}).ids;
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, {skip_special_tokens: true});
  }

  /** One token's own text, special tokens included (the `tokens` of a logprobs answer). */
  tokenText(id: number): string {
    return this.tok.decode([id], {skip_special_tokens: false});
  }
}

/**
 * Turns tokens into text deltas. A byte-level model emits multi-byte characters over several
 * tokens, so tokens whose text ends in an incomplete UTF-8 sequence (decoded as U+FFFD) are held
 * back until the character completes.
 */
export class IncrementalDecoder {
  private pending: number[] = [];
  constructor(private readonly tok: ModelTokenizer) {}

  push(id: number): string {
    this.pending.push(id);
    const text = this.tok.decode(this.pending);
    // Up to 3 continuation tokens may be needed for a 4-byte character.
    if (text.endsWith('\uFFFD') && this.pending.length < 4) return '';
    this.pending = [];
    return text;
  }

  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.tok.decode(this.pending);
    this.pending = [];
    return text;
  }
}
