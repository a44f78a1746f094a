/**
 * Renders a conversation with the model's own Jinja chat template (@huggingface/jinja), with the
 * variables transformers passes: messages, add_generation_prompt, bos_token, eos_token, pad_token,
 * unk_token and raise_exception. A template that raises (for example "Conversation roles must
 * alternate user/assistant/user/assistant/...") becomes a user error carrying its message.
 *
 * A model without a template (a base GPT-2, llmops's early exports) gets DEFAULT_CHAT_TEMPLATE:
 * ChatML, the convention most open chat models use and transformers' former class default.
 */
import {Environment, Interpreter, Template} from '@huggingface/jinja';
import {inputError, LlmopsError} from '../errors.js';
import type {ModelFolder} from './folder.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Raised by the template's raise_exception(); carries the template's own message. */
export class ChatTemplateError extends LlmopsError {
  constructor(readonly templateMessage: string, file: string | null) {
    super('INPUT', `The model's chat template refused the conversation: ${templateMessage}`, {
      fix: `Try this: change the messages as the template asks${file ? ` (template: ${file})` : ''}.`,
      details: {templateMessage},
    });
  }
}

const compiled = new Map<string, Template>();

function compile(source: string, file: string | null): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (error) {
      throw inputError(`The chat template${file ? ` in ${file}` : ''} is not valid Jinja: ${(error as Error).message}.`, {
        fix: 'Try this: fix chat_template (tokenizer_config.json or chat_template.jinja) or remove it to use the default.',
      });
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(source, t);
  }
  return t;
}

type TemplateModel = Pick<ModelFolder, 'chatTemplate' | 'chatTemplateFile' | 'bosToken' | 'eosToken' | 'padToken' | 'unkToken'>;

/** Globals as @huggingface/jinja's Template.render sets them, with our own raise_exception. */
function environment(raise: (msg: unknown) => never): Environment {
  const env = new Environment();
  for (const [k, v] of Object.entries({false: false, true: true, none: null, False: false, True: true, None: null})) env.set(k, v);
  env.set('raise_exception', raise);
  env.set('range', (start: number, stop?: number, step = 1) => {
    const [a, b] = stop === undefined ? [0, start] : [start, stop];
    const out: number[] = [];
    for (let i = a; step > 0 ? i < b : i > b; i += step) out.push(i);
    return out;
  });
  env.set('strftime_now', (format: string) => strftime(new Date(), format));
  return env;
}

function strftime(d: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', {month: style}).format(d);
  return format.replace(/%[YmdbBHM%]/g, (t) =>
    ({'%Y': String(d.getFullYear()), '%m': pad(d.getMonth() + 1), '%d': pad(d.getDate()), '%b': month('short'), '%B': month('long'), '%H': pad(d.getHours()), '%M': pad(d.getMinutes()), '%%': '%'})[t]!,
  );
}

class Raised extends Error {}

export function renderChat(model: TemplateModel, messages: ChatMessage[], opts: {addGenerationPrompt?: boolean} = {}): string {
  const source = model.chatTemplate ?? DEFAULT_CHAT_TEMPLATE;
  const template = compile(source, model.chatTemplateFile);
  const env = environment((msg) => {
    throw new Raised(String(msg));
  });
  const vars = {
    messages: messages.map((m) => ({role: m.role, content: m.content})),
    add_generation_prompt: opts.addGenerationPrompt ?? true,
    bos_token: model.bosToken ?? '',
    eos_token: model.eosToken ?? '',
    pad_token: model.padToken ?? '',
    unk_token: model.unkToken ?? '',
  };
  for (const [k, v] of Object.entries(vars)) env.set(k, v);
  try {
    return new Interpreter(env).run(template.parsed).value as string;
  } catch (error) {
    if (error instanceof Raised) throw new ChatTemplateError(error.message, model.chatTemplateFile);
    throw inputError(
      `The chat template${model.chatTemplateFile ? ` in ${model.chatTemplateFile}` : ''} failed on this conversation: ${(error as Error).message}.`,
      {fix: 'Try this: check the messages (roles and contents as strings), or fix the template.'},
    );
  }
}
