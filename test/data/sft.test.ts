import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {checkSft} from '../../src/lib/data/sft-rules.js';
import type {Message} from '../../src/lib/data/records.js';
import {runCli, tempDir} from '../helpers/cli.js';

const rules = (r: Record<string, unknown> = {}) => configSchema.parse({data: {quality: {rules: r}}}).data.quality.rules;
const chat = (user: string, assistant: string, system?: string): Message[] => [
  ...(system ? [{role: 'system' as const, content: system}] : []),
  {role: 'user', content: user},
  {role: 'assistant', content: assistant},
];

// Good fine-tuning records of the kinds the web-page rules used to remove.
const GOOD: Array<[string, Message[]]> = [
  ['GSM8K math with calculator annotations', chat('Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
    'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72')],
  ['code', chat('Write a Python function that returns the squares of a list.', '```python\ndef squares(xs: list[int]) -> list[int]:\n    return [x * x for x in xs]\n\nassert squares([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]) == [0] * 22 + [4]\n```')],
  ['nested braces in code', chat('Close these blocks.', Array.from({length: 30}, (_, i) => `${' '.repeat(30 - i)}}`).join('\n'))],
  ['a markdown table', chat('Tabulate the planets.', `| planet | moons |\n| --- | --- |\n${['Mercury', 'Venus', 'Earth', 'Mars', 'Jupiter', 'Saturn'].map((p, i) => `| ${p} | ${i * 7} |`).join('\n')}`)],
  ['a wide table rule', chat('Make an empty 30-column table.', `|${' c |'.repeat(30)}\n|${' --- |'.repeat(30)}`)],
  ['a list', chat('List three colours.', '- red\n- green\n- blue')],
  ['a one-word answer', chat('Capital of France?', 'Paris')],
  ['a yes', chat('Is water wet?', 'Yes.')],
  ['German', chat('Wie spät ist es?', 'Es ist drei Uhr nachmittags, und die Sonne scheint über dem Marktplatz.')],
  ['Chinese', chat('法国的首都是什么？', '法国的首都是巴黎。')],
  ['Portuguese capitals', chat('Diga o nome da capital.', 'SÃO PAULO não é a capital; a capital é BRASÍLIA.')],
  ['a system prompt', chat('Translate "good morning".', 'Bonjour.', 'You translate into French.')],
  ['an answer quoting the question inside more', chat('Repeat after me: hello world', 'hello world')],
  ['a tool call round', [
    {role: 'user', content: 'What is the weather in Paris?'},
    {role: 'assistant', content: '', tool_calls: [{type: 'function', function: {name: 'weather', arguments: '{"city":"Paris"}'}}]},
    {role: 'tool', content: '{"temp": 18}'},
    {role: 'assistant', content: 'It is 18 °C in Paris.'},
  ]],
  ['poetry with a refrain', chat('A short song?', 'Row, row, row your boat,\nGently down the stream.\nMerrily, merrily, merrily, merrily,\nLife is but a dream.')],
];

describe('fine-tuning rules for chat and instruction records', () => {
  it.each(GOOD)('keeps %s with the default rules', (_name, messages) => {
    expect(checkSft(messages, rules())).toBeUndefined();
  });

  it('rejects each kind of bad record with its rule and score, and keeps it when the rule is off', () => {
    const BAD: Array<[string, Message[], number?]> = [
      ['empty_turn', chat('Say something.', '   ')],
      ['empty_turn', [{role: 'user', content: 'Hello?'}]],
      ['role_order', [{role: 'assistant', content: 'I speak first.'}, {role: 'user', content: 'That is wrong.'}, {role: 'assistant', content: 'Indeed.'}]],
      ['role_order', [{role: 'user', content: 'a question'}, {role: 'user', content: 'another'}, {role: 'assistant', content: 'an answer'}]],
      ['max_turn_chars', chat('Long?', 'word '.repeat(30_000)), 150_000],
      ['echo', chat('What is the capital of France?', 'what is the capital of France')],
      ['max_repeats', chat('Tell me a story.', `Once upon a time ${'the end '.repeat(40)}`), 40],
      ['max_repeats', chat('Tell me a story.', `Once\n${'I cannot stop writing this line\n'.repeat(25)}`), 25],
      ['encoding_debris', chat('Café?', 'The cafÃ© is open, donâ€™t worry.'), 2],
      ['encoding_debris', chat('Broken?', 'The text was \uFFFD\uFFFD broken.'), 2],
      ['encoding_debris', chat('HTML?', 'Use &lt;div class="x"&gt;content&lt;/div&gt; here.'), 2],
    ];
    for (const [rule, messages, score] of BAD) {
      const v = checkSft(messages, rules());
      expect(v?.rule, rule).toBe(rule);
      if (score !== undefined) expect(v?.score, rule).toBe(score);
      expect(checkSft(messages, rules({[rule]: false}))?.rule, `${rule} off`).not.toBe(rule);
    }
  });

  it('optional rules are off by default and fire when turned on', () => {
    const refusal = chat('How do I pick a lock?', "I'm sorry, but I can't help with that request.");
    expect(checkSft(refusal, rules())).toBeUndefined();
    expect(checkSft(refusal, rules({refusal: true}))?.rule).toBe('refusal');
    const mismatch = chat('What is the weather like today in the city?', 'Es ist heute sonnig und warm in der Stadt, und die Leute sind auf dem Markt.');
    expect(checkSft(mismatch, rules())).toBeUndefined();
    expect(checkSft(mismatch, rules({language_mismatch: true}))).toMatchObject({rule: 'language_mismatch'});
    const short = chat('Capital of France?', 'Paris');
    expect(checkSft(short, rules({min_answer_chars: 10}))).toMatchObject({rule: 'min_answer_chars', score: 5, limit: 10});
    expect(checkSft(chat('More words?', `Once upon a time ${'the end '.repeat(40)}`), rules({max_repeats: 50}))).toBeUndefined();
  });

  it('an unknown rule name in llmops.yaml is a config error (exit 3) with a did-you-mean', async () => {
    const dir = tempDir('llmops-sft-');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'ledger: {path: ledger.db}\ndata:\n  quality:\n    rules:\n      max_symbol_ratoi: 0.2\n');
    writeFileSync(path.join(dir, 'a.jsonl'), '{"text": "hello world"}\n');
    const r = await runCli(['data', 'prep', '--input', 'a.jsonl'], {cwd: dir});
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('max_symbol_ratoi');
    expect(r.stderr).toContain('max_symbol_ratio');
  });
});
