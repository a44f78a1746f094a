/**
 * The hand-checkable model: logits are a fixed bigram table (they depend only on the input token),
 * built as an ONNX graph in the serving layout by bigram_onnx.py (python3 + onnx) with llmops's
 * byte tokenizer (ids 0-255 are bytes, 256 <|bos|>, 257 <|eos|>, ... 261 <|assistant|>, 262 <|end|>).
 */
import {execFileSync} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {PYTHON} from '../../helpers/cli.js';

export const V = 263;
export const BOS = 256;

/** The table: a small bonus for the next byte value, for "a", and for "t" after BOS. */
export function logit(p: number, q: number): number {
  return (q === p + 1 ? 2 : 0) + (q === 97 ? 1 : 0) + (p === BOS && q === 116 ? 3 : 0);
}

/** log P(q | p), computed directly from the table. */
export function lp(p: number, q: number): number {
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logit(p, v));
  return logit(p, q) - Math.log(z);
}

export const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

/** Sum of log P over consecutive tokens of `ids` (each token after the first). */
export const chainLl = (ids: number[]) => ids.slice(1).reduce((a, q, i) => a + lp(ids[i]!, q), 0);

export function buildBigramModel(nPositions = 8): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-bigram-'));
  const table: number[] = [];
  for (let p = 0; p < V; p++) for (let q = 0; q < V; q++) table.push(logit(p, q));
  const spec = path.join(dir, 'table.json');
  writeFileSync(spec, JSON.stringify({vocab: V, n_positions: nPositions, table}));
  const out = path.join(dir, 'model');
  execFileSync(PYTHON, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'bigram_onnx.py'), spec, out], {stdio: 'pipe', timeout: 60_000});
  return out;
}
