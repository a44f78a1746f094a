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
  | {kind: 'chat'; id?: string; messages: Message[]; format: 'alpaca' | 'sharegpt' | 'openai' | 'prompt_completion'};

export class ShapeError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

// ShareGPT "from" values (LLaMA-Factory's dataset_info.json tags: human, gpt, system, function_call, observation).
const SHAREGPT_ROLES: Record<string, Message['role'] | 'function_call'> = {
  human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', chatgpt: 'assistant', bing: 'assistant',
  bard: 'assistant', model: 'assistant', system: 'system', function_call: 'function_call', observation: 'tool', tool: 'tool',
};

/** Prompt/answer field pairs recognised without a field map (JSON lines and CSV). */
export const PAIRS: Array<[string, string]> = [['prompt', 'completion'], ['prompt', 'response'], ['question', 'answer'], ['query', 'response']];

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

/** OpenAI content: a string, null (an assistant turn with tool calls), or parts whose text parts are joined. */
function openaiContent(content: unknown, k: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw new ShapeError('bad_content', `messages[${k}].content must be a string or a list of parts`);
  const texts: string[] = [];
  for (const [j, part] of content.entries()) {
    const type = (part as {type?: unknown})?.type;
    const text = (part as {text?: unknown})?.text;
    if (type === 'text' && typeof text === 'string') texts.push(text);
    else throw new ShapeError('unsupported_part', `messages[${k}].content[${j}] is a ${JSON.stringify(type ?? null)} part; only text parts can be trained on`);
  }
  return texts.join('\n');
}

function toolCalls(v: unknown, k: number): ToolCall[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ShapeError('bad_tool_calls', `messages[${k}].tool_calls must be a list`);
  return v.map((c, j): ToolCall => {
    const f = (c as {function?: {name?: unknown; arguments?: unknown}})?.function;
    if (!f || typeof f.name !== 'string') throw new ShapeError('bad_tool_calls', `messages[${k}].tool_calls[${j}] needs function.name`);
    const args = typeof f.arguments === 'string' ? f.arguments : JSON.stringify(f.arguments ?? {});
    const id = (c as {id?: unknown}).id;
    return {...(typeof id === 'string' ? {id} : {}), type: 'function', function: {name: f.name, arguments: args}};
  });
}

function openaiMessages(msgs: unknown): Message[] {
  if (!Array.isArray(msgs)) throw new ShapeError('bad_messages', '"messages" must be an array of {role, content}');
  return msgs.map((m, k): Message => {
    const o = (m ?? {}) as Record<string, unknown>;
    const role = o.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw new ShapeError('bad_role', `messages[${k}].role is ${JSON.stringify(role)}, expected "system", "user", "assistant" or "tool"`);
    }
    const msg: Message = {role, content: openaiContent(o.content, k)};
    const calls = role === 'assistant' ? toolCalls(o.tool_calls, k) : undefined;
    if (calls && calls.length > 0) msg.tool_calls = calls;
    if (role === 'tool' && typeof o.tool_call_id === 'string') msg.tool_call_id = o.tool_call_id;
    if (role === 'tool' && typeof o.name === 'string') msg.name = o.name;
    return msg;
  });
}

function sharegptMessages(conv: unknown): Message[] {
  if (!Array.isArray(conv)) throw new ShapeError('bad_conversations', '"conversations" must be an array of {from, value}');
  return conv.map((m, k): Message => {
    const from = (m as {from?: unknown})?.from;
    const val = (m as {value?: unknown})?.value;
    const role = typeof from === 'string' ? SHAREGPT_ROLES[from.toLowerCase()] : undefined;
    if (!role) throw new ShapeError('bad_role', `conversations[${k}].from is ${JSON.stringify(from)}, expected human, gpt, system, function_call or observation`);
    if (typeof val !== 'string') throw new ShapeError('bad_content', `conversations[${k}].value must be a string`);
    if (role !== 'function_call') return {role, content: val};
    // A function call's value is the call as JSON ({"name", "arguments"}), as LLaMA-Factory writes it.
    let call: {name?: unknown; arguments?: unknown} | undefined;
    try {
      call = JSON.parse(val) as typeof call;
    } catch {
      call = undefined;
    }
    if (!call || typeof call.name !== 'string') throw new ShapeError('bad_content', `conversations[${k}] (function_call) must hold {"name", "arguments"} as JSON`);
    const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
    return {role: 'assistant', content: '', tool_calls: [{type: 'function', function: {name: call.name, arguments: args}}]};
  });
}

/** Alpaca: history (earlier [instruction, response] pairs) and system before the instruction, as LLaMA-Factory reads it. */
function alpacaMessages(obj: Record<string, unknown>, fm: FieldMap, instruction: unknown): Message[] {
  const output = pick(obj, fm.output, 'output');
  const input = pick(obj, fm.input, 'input');
  const system = pick(obj, fm.system, 'system');
  if (typeof instruction !== 'string') throw new ShapeError('bad_instruction', '"instruction" must be a string');
  if (typeof output !== 'string') throw new ShapeError('missing_output', `an Alpaca record needs "${fm.output ?? 'output'}" (a string) next to "instruction"`);
  if (input !== undefined && input !== null && typeof input !== 'string') throw new ShapeError('bad_input', '"input" must be a string');
  const messages: Message[] = [];
  if (typeof system === 'string' && system.trim() !== '') messages.push({role: 'system', content: system});
  const history = maybeJson(obj.history);
  if (history !== undefined && history !== null) {
    if (!Array.isArray(history)) throw new ShapeError('bad_history', '"history" must be a list of [instruction, response] pairs');
    for (const [k, pair] of history.entries()) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new ShapeError('bad_history', `history[${k}] must be an [instruction, response] pair of strings`);
      }
      messages.push({role: 'user', content: pair[0]}, {role: 'assistant', content: pair[1]});
    }
  }
  messages.push({role: 'user', content: typeof input === 'string' && input.trim() !== '' ? `${instruction}\n\n${input}` : instruction});
  messages.push({role: 'assistant', content: output});
  return messages;
}

export function toCanonical(value: unknown, fm: FieldMap): Canonical {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ShapeError('not_an_object', `expected a JSON object, found ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  const obj = value as Record<string, unknown>;
  const rawId = pick(obj, fm.id, 'id');
  const id = typeof rawId === 'string' && rawId !== '' ? rawId : typeof rawId === 'number' ? String(rawId) : undefined;

  const msgs = maybeJson(pick(obj, fm.messages, 'messages'));
  if (msgs !== undefined) return {kind: 'chat', id, messages: openaiMessages(msgs), format: 'openai'};

  const conv = maybeJson(pick(obj, fm.conversations, 'conversations'));
  if (conv !== undefined) {
    const messages = sharegptMessages(conv);
    const system = obj.system;
    if (typeof system === 'string' && system.trim() !== '' && messages[0]?.role !== 'system') messages.unshift({role: 'system', content: system});
    return {kind: 'chat', id, messages, format: 'sharegpt'};
  }

  const instruction = pick(obj, fm.instruction, 'instruction');
  if (instruction !== undefined) return {kind: 'chat', id, messages: alpacaMessages(obj, fm, instruction), format: 'alpaca'};

  for (const [q, a] of PAIRS) {
    if (obj[q] === undefined || obj[a] === undefined) continue;
    if (typeof obj[q] !== 'string' || typeof obj[a] !== 'string') throw new ShapeError('bad_content', `"${q}" and "${a}" must be strings`);
    const messages: Message[] = [];
    if (typeof obj.system === 'string' && obj.system.trim() !== '') messages.push({role: 'system', content: obj.system});
    messages.push({role: 'user', content: obj[q] as string}, {role: 'assistant', content: obj[a] as string});
    return {kind: 'chat', id, messages, format: 'prompt_completion'};
  }

  const text = pick(obj, fm.text, 'text');
  if (text !== undefined) {
    if (typeof text !== 'string') throw new ShapeError('bad_text', `"${fm.text ?? 'text'}" must be a string, found ${typeof text}`);
    return {kind: 'text', id, text, format: 'text'};
  }

  const fields = Object.keys(obj).slice(0, 12).join(', ') || '(none)';
  throw new ShapeError(
    'unknown_shape',
    `unrecognised record: expected "text", "instruction"+"output", "conversations", "messages", or prompt+completion/response, question+answer (or data.field_map); found fields: ${fields}`,
  );
}

/** Whether an object has any of the fields the mapping names (to catch a mapping for another file). */
export function hasMappedField(obj: Record<string, unknown>, fm: FieldMap): boolean {
  return mappedFields(fm).some(([key, name]) => key !== 'id' && key !== 'system' && key !== 'input' && name in obj);
}

const PROMPTISH = ['instruction', 'prompt', 'question', 'query', 'input', 'human', 'user', 'context', 'source', 'problem'];
const ANSWERISH = ['output', 'completion', 'response', 'answer', 'target', 'gpt', 'assistant', 'reply', 'solution', 'label'];
const TEXTISH = ['text', 'content', 'body', 'document', 'passage', 'article', 'sentence', 'story'];

/**
 * A data.field_map that reads records with these keys, built from the keys themselves (so an error's
 * hint works for the file at hand): a prompt-like and an answer-like field become instruction/output,
 * else a text-like field (or the first one) becomes text.
 */
export function suggestFieldMap(keys: string[]): string {
  const find = (names: string[], skip?: string) => keys.find((k) => k !== skip && names.some((n) => k.toLowerCase().includes(n)));
  const q = find(PROMPTISH);
  const a = find(ANSWERISH, q);
  if (q && a) return `{instruction: ${q}, output: ${a}}`;
  const t = find(TEXTISH) ?? keys[0];
  return t ? `{text: ${t}}` : '{text: FIELD}';
}
