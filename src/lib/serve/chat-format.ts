/**
 * Prompt rendering with the chat format the model was fine-tuned with (llmops_model.json's
 * per-role templates), so chat requests look exactly like the training conversations.
 */
import type {ChatFormat} from './model-dir.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'developer' | 'tool';
  content: string;
}

export function renderChat(format: ChatFormat, messages: ChatMessage[]): string {
  let out = '';
  for (const m of messages) {
    // OpenAI's "developer" role is the newer name of "system"; tool output is shown as a user turn.
    const role = m.role === 'developer' ? 'system' : m.role === 'tool' ? 'user' : m.role;
    out += format[role].replace('{content}', () => m.content);
  }
  return out + format.generation_prompt;
}

/** The text a drift profile is computed from: the system and user turns, as data prep does. */
export function promptTextOf(messages: ChatMessage[]): string {
  return messages
    .filter((m) => m.role === 'user' || m.role === 'system' || m.role === 'developer')
    .map((m) => m.content)
    .join('\n');
}

/**
 * A conversation as the trainer tokenizes it (templates/trainer/data.py `render`): each turn's
 * header, its content with the closing <|end|>, and what follows; mask[i] = 1 on the assistant's
 * content and <|end|> tokens, the ones a fine-tune learns (and eval scores).
 */
export function tokenizeChat(format: ChatFormat, encode: (text: string) => number[], messages: ChatMessage[]): {ids: number[]; mask: number[]} {
  const ids: number[] = [];
  const mask: number[] = [];
  const END = '<|end|>';
  for (const m of messages) {
    const role = m.role === 'developer' ? 'system' : m.role === 'tool' ? 'user' : m.role;
    const [head, tail = ''] = format[role].split('{content}') as [string, string?];
    const end = tail.startsWith(END) ? END : '';
    const h = encode(head);
    const body = encode(m.content + end);
    const rest = encode(tail.slice(end.length));
    const learn = role === 'assistant' ? 1 : 0;
    ids.push(...h, ...body, ...rest);
    mask.push(...h.map(() => 0), ...body.map(() => learn), ...rest.map(() => 0));
  }
  return {ids, mask};
}
