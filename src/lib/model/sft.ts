/**
 * One tokenization of a conversation for fine-tuning and eval, identical to what the server feeds
 * the model: the chat template renders the whole conversation, the text is encoded without special
 * tokens (the template writes its own BOS), and mask[i] = 1 marks the tokens the loss is taken on:
 * the assistant's turns.
 *
 * How assistant spans are found: a template is a black box, so each assistant turn i is located by
 * rendering prefixes of the conversation. The turn's text starts where
 * render(messages[0..i), add_generation_prompt=true) ends (the template's own assistant header is
 * excluded) and ends where render(messages[0..i]) ends, so it includes the template's end-of-turn
 * marker (<|im_end|>, <|eot_id|>, </s>...) that teaches the model to stop, without the whitespace
 * the template writes after that marker. When a template is not
 * prefix-stable (one that rewrites earlier turns), the turn's content is searched in the rendered
 * text after the previous turn instead, which includes its content but not the end marker.
 *
 * Character positions become token positions by encoding the text up to the position and taking
 * the common prefix with the full encoding: tokens wholly inside the prefix agree. A token that
 * straddles a boundary (BPE merged text from both sides) holds assistant text and is marked.
 */
import {renderChat, type ChatMessage} from './chat-template.js';
import type {ModelFolder} from './folder.js';
import type {ModelTokenizer} from './tokenizer.js';

type TemplateModel = Parameters<typeof renderChat>[0] & Partial<Pick<ModelFolder, 'dir'>>;

/** Character spans [start, end) of the assistant turns in the rendered conversation. */
export function assistantSpans(model: TemplateModel, messages: ChatMessage[], full: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let searchFrom = 0;
  for (let i = 0; i < messages.length; i++) {
    if (messages[i]!.role !== 'assistant') continue;
    const before = renderChat(model, messages.slice(0, i), {addGenerationPrompt: true});
    const through = renderChat(model, messages.slice(0, i + 1), {addGenerationPrompt: false});
    let start: number;
    let end: number;
    if (full.startsWith(before) && full.startsWith(through) && through.length > before.length && before.length >= searchFrom) {
      start = before.length;
      end = trimSeparator(full, start, through.length, messages[i]!.content);
    } else {
      const content = messages[i]!.content;
      const at = content ? full.indexOf(content, searchFrom) : -1;
      if (at === -1) continue;
      start = at;
      end = at + content.length;
    }
    spans.push([start, end]);
    searchFrom = end;
  }
  return spans;
}

/**
 * The whitespace a template writes after a turn's end marker ("<|im_end|>\n") separates turns and
 * is never generated (generation stops at the marker): it is left out of the span, but never the
 * content's own trailing whitespace.
 */
function trimSeparator(full: string, start: number, end: number, content: string): number {
  const at = content ? full.indexOf(content, start) : -1;
  const contentEnd = at !== -1 && at + content.length <= end ? at + content.length : start;
  let e = end;
  while (e > contentEnd && /\s/.test(full[e - 1]!)) e--;
  return e;
}

function commonPrefix(a: number[], b: number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Token index range [from, to) covering the characters [start, end) of `text` (encoded as `ids`). */
function tokenRange(tok: ModelTokenizer, text: string, ids: number[], start: number, end: number): [number, number] {
  const from = commonPrefix(ids, tok.encode(text.slice(0, start)));
  const upTo = tok.encode(text.slice(0, end));
  const agree = commonPrefix(ids, upTo);
  // When the prefix's encoding stops cleanly the boundary is a token boundary; otherwise the
  // token at `agree` holds the end of the span and is included.
  const to = agree === upTo.length ? agree : Math.min(ids.length, agree + 1);
  return [from, Math.max(from, to)];
}

export function tokenizeChat(model: TemplateModel, tok: ModelTokenizer, messages: ChatMessage[]): {ids: number[]; mask: number[]} {
  const text = renderChat(model, messages, {addGenerationPrompt: false});
  const ids = tok.encode(text);
  const mask = new Array<number>(ids.length).fill(0);
  for (const [start, end] of assistantSpans(model, messages, text)) {
    const [from, to] = tokenRange(tok, text, ids, start, end);
    mask.fill(1, from, to);
  }
  return {ids, mask};
}
