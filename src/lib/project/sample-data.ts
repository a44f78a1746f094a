/**
 * The starter project's sample data: generated here, deterministically, so that it is the
 * project's own (no third-party text) and every `llmops init` writes the same bytes.
 *
 * It is small (a tiny model learns from it on a CPU in about a minute) and deliberately a little
 * messy, so that `llmops data prep` has something to show: a few exact and near duplicates,
 * e-mail addresses and phone numbers to redact, a line too short to keep and one malformed line.
 */
import {prng} from '../util/prng.js';

const ANIMALS = ['cat', 'dog', 'fox', 'owl', 'horse', 'rabbit', 'goat', 'duck', 'bear', 'mouse'];
const COLOURS = ['red', 'blue', 'green', 'yellow', 'brown', 'white', 'black', 'orange'];
const PLACES = ['garden', 'forest', 'kitchen', 'river', 'meadow', 'barn', 'library', 'market'];
const VERBS = ['sleeps', 'runs', 'waits', 'sings', 'reads', 'plays', 'eats', 'hides'];
const TIMES = ['in the morning', 'at noon', 'in the evening', 'at night', 'after the rain', 'before lunch'];
const NAMES = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana'];
const OPPOSITES: Array<[string, string]> = [
  ['hot', 'cold'],
  ['big', 'small'],
  ['fast', 'slow'],
  ['open', 'closed'],
  ['early', 'late'],
  ['happy', 'sad'],
  ['light', 'dark'],
  ['full', 'empty'],
];
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

export interface SampleFiles {
  /** JSON lines of {"text"} documents (pre-training style). */
  'corpus.jsonl': string;
  /** JSON lines of Alpaca records {"instruction","input","output"}. */
  'instructions.jsonl': string;
}

export function generateSampleData(seed = 7): SampleFiles {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const docs: string[] = [];
  for (let i = 0; i < 480; i++) {
    const a = pick(ANIMALS);
    const c = pick(COLOURS);
    const p = pick(PLACES);
    const sentences = [
      `The ${c} ${a} ${pick(VERBS)} in the ${p} ${pick(TIMES)}.`,
      `${pick(NAMES)} sees the ${a} and smiles, because the ${a} is ${pick(OPPOSITES)[rnd() < 0.5 ? 0 : 1]}.`,
      `Later the ${a} goes to the ${pick(PLACES)} and ${pick(VERBS)} there with a ${pick(COLOURS)} ${pick(ANIMALS)}.`,
    ];
    if (rnd() < 0.5) sentences.push(`${pick(NAMES)} counts ${pick(NUMBER_WORDS)} ${a}s near the ${p}.`);
    docs.push(sentences.join(' '));
  }
  // Mess, on purpose: duplicates, near duplicates, PII, too short, malformed.
  docs.push(docs[3]!, docs[10]!, docs[42]!);
  docs.push(docs[5]!.replace(/\.$/, '!'), docs[77]!.replace(' the ', ' a '));
  docs.push(`Write to ${pick(NAMES).toLowerCase()}.${pick(ANIMALS)}@example.org if the ${pick(ANIMALS)} runs away from the ${pick(PLACES)}.`);
  docs.push(`Call the ${pick(PLACES)} keeper at +1 415 555 0132 when the ${pick(COLOURS)} ${pick(ANIMALS)} is hungry.`);
  docs.push('ok');
  const corpusLines = docs.map((text) => JSON.stringify({text}));
  corpusLines.splice(100, 0, '{"text": "this line is not valid JSON because it never ends');

  const instr: Array<{instruction: string; input: string; output: string}> = [];
  for (let i = 0; i < 260; i++) {
    const kind = i % 4;
    if (kind === 0) {
      const x = Math.floor(rnd() * 10);
      const y = Math.floor(rnd() * 10);
      instr.push({instruction: `What is ${x} plus ${y}?`, input: '', output: `${x} plus ${y} is ${x + y}.`});
    } else if (kind === 1) {
      const [w, o] = pick(OPPOSITES);
      const flip = rnd() < 0.5;
      instr.push({instruction: 'Give the opposite of the word.', input: flip ? o : w, output: `The opposite of ${flip ? o : w} is ${flip ? w : o}.`});
    } else if (kind === 2) {
      const a = pick(ANIMALS);
      const c = pick(COLOURS);
      const p = pick(PLACES);
      instr.push({
        instruction: 'Where is the animal?',
        input: `The ${c} ${a} ${pick(VERBS)} in the ${p}.`,
        output: `The ${a} is in the ${p}.`,
      });
    } else {
      const n = 1 + Math.floor(rnd() * 9);
      instr.push({instruction: `Write the number ${n} as a word.`, input: '', output: `${n} is written ${NUMBER_WORDS[n]}.`});
    }
  }
  instr.push(instr[0]!, instr[1]!);
  return {
    'corpus.jsonl': corpusLines.join('\n') + '\n',
    'instructions.jsonl': instr.map((r) => JSON.stringify(r)).join('\n') + '\n',
  };
}
