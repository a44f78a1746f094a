import {describe, expect, it} from 'vitest';
import {loadModelFolder} from '../../src/lib/model/folder.js';
import {ChatTemplateError, DEFAULT_CHAT_TEMPLATE, renderChat, type ChatMessage} from '../../src/lib/model/chat-template.js';
import {ModelTokenizer} from '../../src/lib/model/tokenizer.js';
import {tokenizeChat} from '../../src/lib/model/sft.js';
import {fixtureFolder, referenceTokenizer, TEMPLATES} from './fixtures.js';

const LLAMA_CONFIG = {model_type: 'llama', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_size: 64, vocab_size: 32064, max_position_embeddings: 256};

/** One folder per family: a real tokenizer with the family's chat tokens and published template. */
const CASES = {
  phi3: () => fixtureFolder('phi3', {config: {...LLAMA_CONFIG, model_type: 'phi3'}}),
  llama3: () =>
    fixtureFolder('gpt2', {
      addTokens: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
      tokenizerConfig: {chat_template: TEMPLATES.llama3, bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>'},
      config: {...LLAMA_CONFIG, vocab_size: 50261},
    }),
  smollm2: () =>
    fixtureFolder('gpt2', {
      addTokens: ['<|im_start|>', '<|im_end|>'],
      tokenizerConfig: {chat_template: TEMPLATES.smollm2, eos_token: '<|im_end|>'},
      config: {...LLAMA_CONFIG, vocab_size: 50259},
    }),
  gemma2: () =>
    fixtureFolder('phi3', {
      addTokens: ['<start_of_turn>', '<end_of_turn>'],
      tokenizerConfig: {chat_template: TEMPLATES.gemma2},
      config: {...LLAMA_CONFIG, model_type: 'gemma2', head_dim: 32},
    }),
  mistral: () =>
    fixtureFolder('phi3', {tokenizerConfig: {chat_template: TEMPLATES.mistral, eos_token: '</s>'}, config: {...LLAMA_CONFIG, model_type: 'mistral'}}),
};

const CONVERSATION: ChatMessage[] = [
  {role: 'user', content: 'What is 2 + 2? Answer in  words, ünïcödé 🦙.'},
  {role: 'assistant', content: 'Four.'},
  {role: 'user', content: 'And 3 + 3?'},
  {role: 'assistant', content: ' Six, of course!\n'},
];

describe('renderChat: the model\'s own Jinja template, against transformers.js apply_chat_template', () => {
  for (const [name, make] of Object.entries(CASES)) {
    it(`${name}: same text and same token ids, with and without the generation prompt`, async () => {
      const dir = make();
      const model = loadModelFolder(dir);
      const tok = ModelTokenizer.fromFolder(dir);
      const ref = await referenceTokenizer(dir);
      for (const messages of [CONVERSATION, CONVERSATION.slice(0, 3), CONVERSATION.slice(0, 1)]) {
        for (const addGenerationPrompt of [true, false]) {
          const ours = renderChat(model, messages, {addGenerationPrompt});
          expect(ours).toBe(ref.apply_chat_template(messages, {tokenize: false, add_generation_prompt: addGenerationPrompt}));
          const refIds = ref.apply_chat_template(messages, {tokenize: true, return_tensor: false, return_dict: false, add_generation_prompt: addGenerationPrompt});
          expect(tok.encode(ours)).toEqual(refIds);
        }
      }
    });
  }

  it('a template that raises is a user error carrying the template\'s message (Gemma 2: system role; Mistral: alternation)', () => {
    const gemma = loadModelFolder(CASES.gemma2());
    expect(() => renderChat(gemma, [{role: 'system', content: 'S'}, {role: 'user', content: 'U'}])).toThrow(ChatTemplateError);
    expect(() => renderChat(gemma, [{role: 'system', content: 'S'}])).toThrow(/System role not supported/);
    const mistral = loadModelFolder(CASES.mistral());
    try {
      renderChat(mistral, [{role: 'user', content: 'a'}, {role: 'user', content: 'b'}]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ChatTemplateError);
      expect((error as ChatTemplateError).templateMessage).toBe('Conversation roles must alternate user/assistant/user/assistant/...');
      expect((error as ChatTemplateError).exitCode).toBe(4);
    }
  });

  it('a model without a chat template gets the documented default (ChatML)', async () => {
    const dir = fixtureFolder('gpt2', {config: {model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 32, n_positions: 64, vocab_size: 50257}});
    const model = loadModelFolder(dir);
    expect(model.chatTemplate).toBeNull();
    expect(renderChat(model, [{role: 'user', content: 'hi'}])).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    const ref = await referenceTokenizer(dir);
    expect(renderChat(model, CONVERSATION)).toBe(ref.apply_chat_template(CONVERSATION, {tokenize: false, add_generation_prompt: true, chat_template: DEFAULT_CHAT_TEMPLATE}));
  });
});

describe('tokenizeChat: loss mask on the assistant turns', () => {
  for (const [name, make] of Object.entries(CASES)) {
    it(`${name}: ids are the rendered conversation's; the masked tokens spell exactly the assistant turns`, async () => {
      const dir = make();
      const model = loadModelFolder(dir);
      const tok = ModelTokenizer.fromFolder(dir);
      const ref = await referenceTokenizer(dir);
      const {ids, mask} = tokenizeChat(model, tok, CONVERSATION);
      expect(ids).toEqual(ref.apply_chat_template(CONVERSATION, {tokenize: true, return_tensor: false, return_dict: false, add_generation_prompt: false}));
      expect(mask).toHaveLength(ids.length);
      // Never a second BOS: at most the one the template writes.
      if (tok.bosId !== null) expect(ids.filter((i) => i === tok.bosId).length).toBeLessThanOrEqual(1);
      // Contiguous masked runs, one per assistant turn, each holding that turn's text.
      const runs: number[][] = [];
      mask.forEach((m, i) => {
        if (m && (i === 0 || !mask[i - 1])) runs.push([]);
        if (m) runs.at(-1)!.push(ids[i]!);
      });
      expect(runs).toHaveLength(2);
      const assistant = CONVERSATION.filter((m) => m.role === 'assistant');
      runs.forEach((run, k) => expect(tok.decode(run)).toContain(assistant[k]!.content.trim()));
      // Nothing of the user turns is in the loss.
      const masked = tok.decode(ids.filter((_, i) => mask[i]));
      expect(masked).not.toContain('2 + 2');
      expect(masked).not.toContain('3 + 3');
    });
  }

  it('smollm2 (ChatML): each assistant run is the content plus <|im_end|>, the header and the newline after it are not in it', () => {
    const dir = CASES.smollm2();
    const model = loadModelFolder(dir);
    const tok = ModelTokenizer.fromFolder(dir);
    const {ids, mask} = tokenizeChat(model, tok, CONVERSATION.slice(0, 2));
    expect(tok.decode(ids.filter((_, i) => mask[i]))).toBe('Four.<|im_end|>');
  });
});
