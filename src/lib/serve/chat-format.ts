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
