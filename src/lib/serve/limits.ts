/**
 * What a completion request asks for, checked against what the model can do: the prompt rendered
 * (chat template) and tokenized, token ids within the vocabulary, prompt and completion within the
 * context. A refusal is a 400 in OpenAI's shape, decided before any model work.
 */
import {ChatTemplateError} from '../model/chat-template.js';
import type {ModelFolder} from '../model/folder.js';
import {type ApiError, badRequest} from './api-error.js';
import {chatPrompt, promptTextOf} from './chat-format.js';
import type {ModelTokenizer} from './tokenizer.js';
import type {ParsedRequest} from './validate.js';

// No tokenizer turns fewer than this many characters into one token: longer prompts cannot fit the
// context and are refused before the tokenizer spends time on them.
const MAX_CHARS_PER_TOKEN = 64;

export interface PreparedPrompt {
  /** The prompt as text (a chat as its template rendered it). */
  promptText: string;
  promptIds: number[];
  /** Tokens to generate at most: the request's, or the server's default within the context. */
  maxTokens: number;
  /** The text the request profile is computed from (a chat's messages, not its template). */
  profileText: string;
}

/** The prompt ready to run, or the 400 that refuses the request. */
export function preparePrompt(spec: ModelFolder, tokenizer: ModelTokenizer, p: ParsedRequest, maxTokensDefault: number): PreparedPrompt | ApiError {
  const chat = p.endpoint === 'chat';
  if (p.promptIds?.some((id) => id >= spec.vocabSize)) {
    return badRequest(`Invalid value for 'prompt': token ids must be below the vocabulary size ${spec.vocabSize}.`, 'prompt');
  }
  let promptText: string;
  try {
    promptText = chat ? chatPrompt(spec, p.messages!) : (p.prompt ?? tokenizer.decode(p.promptIds!, {skipSpecialTokens: true}));
  } catch (error) {
    // The model's own template refused the conversation: the client's fault, with its message.
    if (error instanceof ChatTemplateError) return badRequest(error.templateMessage, 'messages');
    if (error instanceof Error && 'exitCode' in error) return badRequest(error.message, 'messages');
    throw error;
  }
  const ctxLen = spec.contextLength;
  const promptParam = chat ? 'messages' : 'prompt';
  if (promptText.length > ctxLen * MAX_CHARS_PER_TOKEN) {
    return badRequest(`This model's maximum context length is ${ctxLen} tokens; the prompt is far longer (${promptText.length} characters).`, promptParam, 'context_length_exceeded');
  }
  // A chat is tokenized as rendered (the template writes its own BOS); plain text gets the
  // tokenizer's special tokens as the model's config says (BOS for Llama, none for GPT-2). A prompt
  // of token ids is used as it is.
  const promptIds = p.promptIds ?? tokenizer.encode(promptText, {addSpecialTokens: !chat});
  if (promptIds.length === 0) return badRequest('The prompt is empty.', 'prompt');
  const maxParam = chat ? 'max_completion_tokens' : 'max_tokens';
  if (promptIds.length >= ctxLen) {
    return badRequest(`This model's maximum context length is ${ctxLen} tokens; the prompt alone has ${promptIds.length} tokens.`, promptParam, 'context_length_exceeded');
  }
  if (p.maxTokens !== null && promptIds.length + p.maxTokens > ctxLen) {
    return badRequest(
      `This model's maximum context length is ${ctxLen} tokens. However, you requested ${promptIds.length + p.maxTokens} tokens (${promptIds.length} in the prompt, ${p.maxTokens} in the completion). Lower ${maxParam} or the prompt.`,
      maxParam,
      'context_length_exceeded',
    );
  }
  return {
    promptText,
    promptIds,
    maxTokens: p.maxTokens ?? Math.min(maxTokensDefault, ctxLen - promptIds.length),
    profileText: chat ? promptTextOf(p.messages!) : promptText,
  };
}
