/**
 * Instruction sets in the formats users have, written here as fixtures in their own formats
 * (ShareGPT as LLaMA-Factory describes it, OpenAI messages with tool calls and content parts, Alpaca
 * with system and history, GSM8K-style math, code, prompt/completion JSONL and CSV): with the default
 * rules at most 0.5% of well-formed non-duplicate records are rejected, every rejection is in
 * rejected.jsonl with its rule and line, and the totals reconcile with the files' own counts.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {prepareData} from '../../src/lib/data/pipeline.js';
import {tempDir} from '../helpers/cli.js';

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const cfg = (data: Record<string, unknown>) => configSchema.parse({data: {out: 'out', split: {train: 1, val: 0, test: 0}, ...data}}).data;
function project(files: Record<string, string>): string {
  const dir = tempDir('llmops-formats-');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
    writeFileSync(path.join(dir, name), body);
  }
  return dir;
}
let seed = 1;
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
const NAMES = ['Natalia', 'Weng', 'Betty', 'Julie', 'James', 'Albert', 'Ken', 'Mark', 'Alexis', 'Tina', 'Randy', 'Jasmine'];
const ITEMS = ['clips', 'apples', 'pages', 'marbles', 'stickers', 'cookies', 'pencils', 'shells', 'books', 'cards'];
const jsonl = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';

function math(i: number) {
  const name = NAMES[rnd(NAMES.length)]!;
  const item = ITEMS[rnd(ITEMS.length)]!;
  const a = 10 + rnd(90) * 2;
  const k = 2 + rnd(5);
  const b = a * k;
  return {
    instruction: `${name} had ${a} ${item} on day ${i}. A friend gave ${name} ${k} times as many ${item}. How many ${item} does ${name} have now?`,
    input: '',
    output: `The friend gave ${a}*${k} = <<${a}*${k}=${b}>>${b} ${item}.\n${name} now has ${a}+${b} = <<${a}+${b}=${a + b}>>${a + b} ${item}.\n#### ${a + b}`,
  };
}
function code(i: number) {
  const f = ['sum', 'max', 'min', 'len', 'sorted', 'reversed'][i % 6]!;
  return {
    instruction: `Write a Python function number ${i} that applies ${f} to a list of ${i + 3} integers and explain it.`,
    input: '',
    output: `\`\`\`python\ndef apply_${f}_${i}(xs: list[int]) -> object:\n    if not xs:\n        return None\n    return ${f}(xs)  # O(n)\n\`\`\`\nFor example, apply_${f}_${i}([${Array.from({length: 3 + (i % 5)}, (_, k) => k * i).join(', ')}]) uses the built-in {${f}}; a dict like {"k": [1, 2]} works too.`,
  };
}
function sharegpt(i: number) {
  const city = ['Paris', 'Berlin', 'Tokyo', 'Lima', 'Oslo', 'Cairo'][i % 6]!;
  return {
    system: 'You are a helpful assistant with tools.',
    tools: '[{"name": "weather", "description": "Current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]',
    conversations: [
      {from: 'human', value: `What is the weather in ${city} on day ${i}?`},
      {from: 'function_call', value: JSON.stringify({name: 'weather', arguments: {city, day: i}})},
      {from: 'observation', value: JSON.stringify({temp: 10 + (i % 20), sky: i % 2 ? 'clear' : 'cloudy'})},
      {from: 'gpt', value: `On day ${i} it is ${10 + (i % 20)} °C in ${city} and the sky is ${i % 2 ? 'clear' : 'cloudy'}.`},
      {from: 'human', value: `Thanks. Should I take an umbrella in ${city}?`},
      {from: 'gpt', value: i % 2 ? 'No, the sky is clear.' : 'Perhaps: it is cloudy, but no rain is forecast.'},
    ],
  };
}
function tools(i: number) {
  const x = 3 + i;
  const y = 7 * i + 1;
  return {
    messages: [
      {role: 'system', content: 'You can call a calculator.'},
      {role: 'user', content: [{type: 'text', text: `What is ${x} times ${y}?`}, {type: 'text', text: `(question ${i})`}]},
      {role: 'assistant', content: null, tool_calls: [{id: `call_${i}`, type: 'function', function: {name: 'multiply', arguments: JSON.stringify({x, y})}}]},
      {role: 'tool', tool_call_id: `call_${i}`, content: String(x * y)},
      {role: 'assistant', content: `${x} × ${y} = ${x * y}.`},
    ],
  };
}
function history(i: number) {
  return {
    system: 'Answer briefly.',
    instruction: `And what is ${i} squared?`,
    input: '',
    output: `${i * i}.`,
    history: [[`What is ${i} plus ${i}?`, `${2 * i}.`], [`And ${i} times 3?`, `${3 * i}.`]],
  };
}
const table = (i: number) => ({
  prompt: `Make a table of the first ${3 + (i % 4)} multiples of ${i + 2}.`,
  completion: `| n | ${i + 2} × n |\n| --- | --- |\n${Array.from({length: 3 + (i % 4)}, (_, k) => `| ${k + 1} | ${(k + 1) * (i + 2)} |`).join('\n')}`,
});
const qa = (i: number) => ({question: `Is ${i * 2 + 1} an odd number?`, answer: i % 3 ? 'Yes.' : `Yes, ${i * 2 + 1} = 2 × ${i} + 1.`});
const pr = (i: number) => ({prompt: `Translate "good morning number ${i}" into German.`, response: `Guten Morgen Nummer ${i}.`});

describe('instruction sets in their own formats', () => {
  it('keeps well-formed records of every format (at most 0.5% rejected), multi-turn and tool turns included, and reconciles', async () => {
    const n = 60;
    const csvRows = Array.from({length: n}, (_, i) => `"What is the capital of country ${i}?","Its capital is city ${i}, which lies on the river, ""old town"" and all."`);
    const dir = project({
      'math.jsonl': jsonl(Array.from({length: n}, (_, i) => math(i))),
      'code.json': JSON.stringify(Array.from({length: n}, (_, i) => code(i)), null, 2),
      'sharegpt.jsonl': jsonl(Array.from({length: n}, (_, i) => sharegpt(i))),
      'tools.jsonl': jsonl(Array.from({length: n}, (_, i) => tools(i))),
      'history.jsonl': jsonl(Array.from({length: n}, (_, i) => history(i))),
      'pc.jsonl': jsonl([...Array.from({length: n}, (_, i) => table(i)), ...Array.from({length: n}, (_, i) => qa(i)), ...Array.from({length: n}, (_, i) => pr(i))]),
      'qa.csv': `question,answer\r\n${csvRows.join('\n')}\n`,
    });
    const r = await prepareData({root: dir, config: cfg({inputs: ['*.jsonl', '*.json', '*.csv']}), cacheDir: '.c', workers: 0});
    const out = path.join(dir, 'out');
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const physical = m.inputs.reduce((a: number, i: {records: number}) => a + i.records, 0);
    expect(physical).toBe(n * 9);
    expect(m.reconciled).toBe(true);
    const c = r.records;
    expect(c.read).toBe(physical);
    expect(c.rejected + c.duplicates.exact + c.duplicates.near + c.written.train).toBe(physical);
    const rejected = lines(path.join(out, 'rejected.jsonl'));
    expect(rejected.length / (physical - c.duplicates.exact - c.duplicates.near), JSON.stringify(rejected.slice(0, 3))).toBeLessThanOrEqual(0.005);
    expect(m.formats).toMatchObject({alpaca: 3 * n - c.duplicates.exact - c.duplicates.near, sharegpt: n, openai: n, prompt_completion: 4 * n});

    const train = lines(path.join(out, 'train.jsonl'));
    const sg = train.find((x) => x.messages.some((t: {content: string}) => t.content === 'What is the weather in Paris on day 0?'));
    expect(sg.messages.map((t: {role: string}) => t.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant']);
    expect(sg.messages[2].tool_calls[0].function).toEqual({name: 'weather', arguments: '{"city":"Paris","day":0}'});
    const tl = train.find((x) => x.messages[1]?.content === 'What is 3 times 1?\n(question 0)');
    expect(tl.messages[2]).toEqual({role: 'assistant', content: '', tool_calls: [{id: 'call_0', type: 'function', function: {name: 'multiply', arguments: '{"x":3,"y":1}'}}]});
    expect(tl.messages[3]).toEqual({role: 'tool', content: '3', tool_call_id: 'call_0'});
    const hi = train.find((x) => x.messages.some((t: {content: string}) => t.content === 'And what is 5 squared?'));
    expect(hi.messages.map((t: {content: string}) => t.content)).toEqual(['Answer briefly.', 'What is 5 plus 5?', '10.', 'And 5 times 3?', '15.', 'And what is 5 squared?', '25.']);
    expect(train.some((x) => x.messages[0]?.content === 'Is 1 an odd number?' && x.messages[1].content === 'Yes, 1 = 2 × 0 + 1.')).toBe(true);
    expect(train.some((x) => x.messages[0]?.content === 'What is the capital of country 7?')).toBe(true);
    expect(train.some((x) => x.messages.at(-1).content.includes('#### '))).toBe(true);
  });

  it('rejects what cannot be trained on with its line and reason: image parts, unknown shapes (with their keys), CSV rows with the wrong field count; mixed CRLF/LF rows all kept', async () => {
    const dir = project({
      'a.jsonl': jsonl([
        {messages: [{role: 'user', content: [{type: 'text', text: 'What is in this picture?'}, {type: 'image_url', image_url: {url: 'http://x/y.png'}}]}, {role: 'assistant', content: 'A cat.'}]},
        {foo: 'bar', baz: 1},
        {prompt: 'Good prompt here?', completion: 'A good completion.'},
      ]),
      'b.csv': 'prompt,completion\r\nFirst prompt?,First answer.\nSecond prompt?,Second answer.\r\nThird prompt?,Third answer,extra\nFourth prompt?\r\n"Fifth, quoted\nprompt?",Fifth answer.\nSixth prompt?,Sixth answer.\n',
    });
    const r = await prepareData({root: dir, config: cfg({inputs: ['a.jsonl', 'b.csv']}), cacheDir: '.c', workers: 0});
    const rej = lines(path.join(dir, 'out', 'rejected.jsonl'));
    expect(rej.map((x) => [x.source, x.line, x.rule])).toEqual([
      ['a.jsonl', 1, 'unsupported_part'],
      ['a.jsonl', 2, 'unknown_shape'],
      ['b.csv', 4, 'csv_field_count'],
      ['b.csv', 5, 'csv_field_count'],
    ]);
    expect(rej[0].reason).toContain('"image_url" part');
    expect(rej[1].reason).toContain('found fields: foo, baz');
    expect(rej[2].reason).toContain('3 fields, the header 2');
    expect(rej[2].raw).toBe('Third prompt?,Third answer,extra');
    const m = JSON.parse(readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8'));
    expect(m.inputs.map((i: {records: number}) => i.records)).toEqual([3, 6]);
    expect(r.records.written.train).toBe(5);
    expect(m.reconciled).toBe(true);
    expect(readFileSync(path.join(dir, 'out', 'card.md'), 'utf8')).toContain("Counts reconcile: the inputs' own record count (9");
  });

  it('one empty input among several is a warning naming it; a wrong field map gets a hint that works for the file', async () => {
    const dir = project({'a.jsonl': jsonl([{prompt: 'Hello there?', completion: 'Hi.'}]), 'empty.jsonl': '\n\n', 'm.jsonl': jsonl([{query_text: 'What is two and two?', reply_text: 'Four.'}])});
    const r = await prepareData({root: dir, config: cfg({inputs: ['a.jsonl', 'empty.jsonl']}), cacheDir: '.c', workers: 0});
    expect(r.warnings).toEqual(['empty.jsonl: empty input (no records); the other inputs were prepared.']);
    expect(r.records.written.train).toBe(1);
    await expect(prepareData({root: dir, config: cfg({inputs: ['empty.jsonl'], out: 'o2'}), cacheDir: '.c', workers: 0})).rejects.toMatchObject({code: 'INPUT'});
    const err = await prepareData({root: dir, config: cfg({inputs: ['m.jsonl'], out: 'o3', field_map: {text: 'body'}}), cacheDir: '.c', workers: 0}).catch((e) => e);
    const hint = /data\.field_map: (\{[^}]*\})/.exec(err.fix)![1]!;
    expect(hint).toBe('{instruction: query_text, output: reply_text}');
    const fm = Object.fromEntries(hint.slice(1, -1).split(', ').map((kv) => kv.split(': ')));
    const ok = await prepareData({root: dir, config: cfg({inputs: ['m.jsonl'], out: 'o4', field_map: fm}), cacheDir: '.c', workers: 0});
    expect(ok.records.written.train).toBe(1);
  });
});
