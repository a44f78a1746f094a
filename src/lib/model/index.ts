/** The one model API: folder layout, tokenizer, chat template and SFT tokenization. */
export * from './folder.js';
export * from './tokenizer.js';
export * from './chat-template.js';
export * from './sft.js';
