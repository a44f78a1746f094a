/**
 * Recognising input records and converting them to the canonical shapes the trainer reads:
 *   text: {"id", "text"}
 *   chat: {"id", "messages": [{"role", "content"}]}  (system?, then user/assistant alternating,
 *         ending with assistant)
 * Recognised: plain text ({text}), Alpaca ({instruction, input?, output, system?}), ShareGPT
 * ({conversations: [{from, value}]}) and OpenAI chat ({messages: [{role, content}]}), with the
 * field names of `data.field_map` tried before the standard ones.
 */
export interface FieldMap {
  id?: string;
  text?: string;
  instruction?: string;
  input?: string;
  output?: string;
  system?: string;
  messages?: string;
  conversations?: string;
}

/** An OpenAI-style tool call of an assistant turn (arguments as JSON text). */
export interface ToolCall {
  id?: string;
  type: 'function';
  function: {name: string; arguments: string};
}

export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Assistant turns that call tools. */
  tool_calls?: ToolCall[];
  /** Tool turns: the call they answer, when the input says. */
  tool_call_id?: string;
  /** Tool turns: the tool's name, when the input says. */
  name?: string;
}

export type Canonical =
  | {kind: 'text'; id?: string; text: string; format: 'text'}
  | {kind: 'chat'; id?: string; messages: Message[]; format: 'alpaca' | 'sharegpt' | 'openai'};

export class ShapeError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

const SHAREGPT_ROLES: Record<string, Message['role']> = {
  human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', chatgpt: 'assistant', bing: 'assistant',
  bard: 'assistant', model: 'assistant', system: 'system',
};

function pick(obj: Record<string, unknown>, mapped: string | undefined, standard: string): unknown {
  if (mapped !== undefined && mapped in obj) return obj[mapped];
  return obj[standard];
}

/** The field names a mapping expects, for "field not found" errors. */
export function mappedFields(fm: FieldMap): Array<[keyof FieldMap, string]> {
  return (Object.entries(fm) as Array<[keyof FieldMap, string | undefined]>).filter(
    (e): e is [keyof FieldMap, string] => typeof e[1] === 'string',
  );
}

function maybeJson(v: unknown): unknown {
  // CSV cells are strings: a messages/conversations column holds JSON text.
  if (typeof v === 'string' && v.startsWith('[')) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

export function toCanonical(value: unknown, fm: FieldMap): Canonical {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ShapeError('not_an_object', `expected a JSON object, found ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  const obj = value as Record<string, unknown>;
  const rawId = pick(obj, fm.id, 'id');
  const id = typeof rawId === 'string' && rawId !== '' ? rawId : typeof rawId === 'number' ? String(rawId) : undefined;

  const msgs = maybeJson(pick(obj, fm.messages, 'messages'));
  if (msgs !== undefined) {
    if (!Array.isArray(msgs)) throw new ShapeError('bad_messages', '"messages" must be an array of {role, content}');
    const messages = msgs.map((m, k): Message => {
      const role = (m as {role?: unknown})?.role;
      const content = (m as {content?: unknown})?.content;
      if (role !== 'system' && role !== 'user' && role !== 'assistant') {
        throw new ShapeError('bad_role', `messages[${k}].role is ${JSON.stringify(role)}, expected "system", "user" or "assistant"`);
      }
      if (typeof content !== 'string') throw new ShapeError('bad_content', `messages[${k}].content must be a string`);
      return {role, content};
    });
    return {kind: 'chat', id, messages, format: 'openai'};
  }

  const conv = maybeJson(pick(obj, fm.conversations, 'conversations'));
  if (conv !== undefined) {
    if (!Array.isArray(conv)) throw new ShapeError('bad_conversations', '"conversations" must be an array of {from, value}');
    const messages = conv.map((m, k): Message => {
      const from = (m as {from?: unknown})?.from;
      const val = (m as {value?: unknown})?.value;
      const role = typeof from === 'string' ? SHAREGPT_ROLES[from.toLowerCase()] : undefined;
      if (!role) throw new ShapeError('bad_role', `conversations[${k}].from is ${JSON.stringify(from)}, expected human, gpt or system`);
      if (typeof val !== 'string') throw new ShapeError('bad_content', `conversations[${k}].value must be a string`);
      return {role, content: val};
    });
    return {kind: 'chat', id, messages, format: 'sharegpt'};
  }

  const instruction = pick(obj, fm.instruction, 'instruction');
  if (instruction !== undefined) {
    const output = pick(obj, fm.output, 'output');
    const input = pick(obj, fm.input, 'input');
    const system = pick(obj, fm.system, 'system');
    if (typeof instruction !== 'string') throw new ShapeError('bad_instruction', '"instruction" must be a string');
    if (typeof output !== 'string') {
      throw new ShapeError('missing_output', `an Alpaca record needs "${fm.output ?? 'output'}" (a string) next to "instruction"`);
    }
    if (input !== undefined && input !== null && typeof input !== 'string') throw new ShapeError('bad_input', '"input" must be a string');
    const messages: Message[] = [];
    if (typeof system === 'string' && system.trim() !== '') messages.push({role: 'system', content: system});
    messages.push({role: 'user', content: typeof input === 'string' && input.trim() !== '' ? `${instruction}\n\n${input}` : instruction});
    messages.push({role: 'assistant', content: output});
    return {kind: 'chat', id, messages, format: 'alpaca'};
  }

  const text = pick(obj, fm.text, 'text');
  if (text !== undefined) {
    if (typeof text !== 'string') throw new ShapeError('bad_text', `"${fm.text ?? 'text'}" must be a string, found ${typeof text}`);
    return {kind: 'text', id, text, format: 'text'};
  }

  const fields = Object.keys(obj).slice(0, 12).join(', ') || '(none)';
  throw new ShapeError(
    'unknown_shape',
    `unrecognised record: expected "text", "instruction"+"output", "conversations" or "messages" (or data.field_map); found fields: ${fields}`,
  );
}

/** Whether an object has any of the fields the mapping names (to catch a mapping for another file). */
export function hasMappedField(obj: Record<string, unknown>, fm: FieldMap): boolean {
  return mappedFields(fm).some(([key, name]) => key !== 'id' && key !== 'system' && key !== 'input' && name in obj);
}
