/**
 * OpenAI chat messages as the server receives them, and how they reach the model's own chat
 * template (src/lib/model/chat-template.ts renders them; there is no second implementation here).
 */
import {renderChat as renderWithTemplate} from '../model/chat-template.js';
import type {ModelFolder} from '../model/folder.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'developer' | 'tool';
  content: string;
}

/**
 * The prompt text of a chat request. OpenAI's "developer" role is the newer name of "system",
 * which is what chat templates know; other roles go to the template as they are (a template that
 * does not accept them raises, and the client gets a 400 with its message).
 */
export function chatPrompt(model: ModelFolder, messages: ChatMessage[]): string {
  return renderWithTemplate(
    model,
    messages.map((m) => ({role: m.role === 'developer' ? 'system' : m.role, content: m.content})),
    {addGenerationPrompt: true},
  );
}

/** The text a drift profile is computed from: the system and user turns, as data prep does. */
export function promptTextOf(messages: ChatMessage[]): string {
  return messages
    .filter((m) => m.role === 'user' || m.role === 'system' || m.role === 'developer')
    .map((m) => m.content)
    .join('\n');
}
