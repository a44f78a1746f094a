/**
 * Incremental detokenization for streaming: text deltas as tokens arrive. The tokenizer itself is
 * src/lib/model's ModelTokenizer (one implementation).
 *
 * Decoding one token at a time is wrong for real tokenizers: SentencePiece marks spaces with '▁'
 * and its decoder strips the space at the start of a decoded run; byte-fallback and byte-level
 * tokens carry parts of a multi-byte character. So, as vLLM and transformers' TextStreamer do, a
 * short window of tokens is decoded at once, starting a few tokens back (seeded from the end of
 * the prompt), and only the text past what the window already produced is emitted. A window whose
 * text ends in U+FFFD (an incomplete UTF-8 sequence) waits for the next token.
 */
import type {ModelTokenizer} from '../model/tokenizer.js';

export {ModelTokenizer} from '../model/tokenizer.js';

/** Prompt tokens kept as left context so the first generated token decodes with its space. */
const CONTEXT_TOKENS = 5;

export class IncrementalDecoder {
  private ids: number[];
  /** Start of the decode window. */
  private prefix: number;
  /** Tokens before this index have been emitted. */
  private read: number;

  constructor(
    private readonly tok: ModelTokenizer,
    promptIds: number[] = [],
  ) {
    this.ids = promptIds.slice(-CONTEXT_TOKENS);
    this.prefix = 0;
    this.read = this.ids.length;
  }

  private text(from: number, to: number): string {
    return this.tok.decode(this.ids.slice(from, to), {skipSpecialTokens: true});
  }

  push(id: number): string {
    this.ids.push(id);
    return this.drain();
  }

  /** Takes a token without decoding it yet (drain() decodes everything taken since). */
  append(id: number): void {
    this.ids.push(id);
  }

  /**
   * The text of the tokens taken since the last emission, decoded as one window (one decode for
   * many tokens). When the window ends inside a character, the tokens are replayed one by one, so
   * exactly the text that push() after each of them would have given is released.
   */
  drain(): string {
    const pending = this.ids.length - this.read;
    if (pending === 0) return '';
    const text = this.step();
    if (text !== '' || pending === 1) return text;
    // Nothing released (the window ends inside a character): replay the tokens one at a time.
    let out = '';
    for (const id of this.ids.splice(this.read)) {
      this.ids.push(id);
      out += this.step();
    }
    return out;
  }

  private step(): string {
    const before = this.text(this.prefix, this.read);
    const now = this.text(this.prefix, this.ids.length);
    if (now.length <= before.length || now.endsWith('\uFFFD')) return '';
    // Keep the window short: the tokens just emitted become the left context of the next one.
    this.prefix = this.read;
    this.read = this.ids.length;
    return now.startsWith(before) ? now.slice(before.length) : now.slice(commonPrefixLength(before, now));
  }

  /** Whatever is held back at the end (an incomplete character is emitted as U+FFFD). */
  flush(): string {
    if (this.read === this.ids.length) return '';
    const before = this.text(this.prefix, this.read);
    const now = this.text(this.prefix, this.ids.length);
    this.prefix = this.read = this.ids.length;
    return now.length > before.length ? now.slice(commonPrefixLength(before, now)) : '';
  }
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
