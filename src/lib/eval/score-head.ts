/**
 * The log-softmax of scoring, run by onnxruntime instead of JavaScript.
 *
 * Scoring needs, at every scored position, log softmax(logits)[target] and whether the target is
 * the argmax. With a realistic vocabulary (32k-150k) that is one exp per logit: for a 256-token
 * window of a 32k model, 8 M exps, which in JavaScript cost several times the model's own forward
 * pass. onnxruntime's LogSoftmax is vectorised and threaded, so a second, tiny graph does it:
 *
 *   logits [n, V] float32, target [n, 1] int64
 *     -> logprob = GatherElements(LogSoftmax(logits, axis -1), target, axis 1)   [n, 1] float32
 *     -> argmax  = ArgMax(logits, axis 1, keepdims 1)                              [n, 1] int64
 *
 * The graph is a few hundred bytes of ONNX protobuf written here (no onnx package at run time).
 * ArgMax returns the first index of a tie, as the JavaScript reference does. Values are float32
 * log-probabilities (the JavaScript path computes in double): they agree to about 1e-6 per token.
 */
import type {InferenceSession} from 'onnxruntime-node';

// --- a minimal protobuf writer for the few ONNX messages the graph needs -------------------------
const utf8 = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(n)); // negative int64 values are ten-byte two's complement
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const int = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
const bytes = (field: number, b: number[]) => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...utf8.encode(s)]);
const msg = (field: number, parts: number[][]) => bytes(field, parts.flat());

// onnx.proto field numbers and enums.
const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const dim = (d: number | string) => msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]);
const valueInfo = (field: number, name: string, elemType: number, dims: Array<number | string>) =>
  msg(field, [str(1, name), msg(2, [msg(1, [int(1, elemType), msg(2, dims.map(dim))])])]);
const attrInt = (name: string, i: number) => msg(5, [str(1, name), int(20, ATTR_INT), int(3, i)]);
const node = (op: string, inputs: string[], outputs: string[], attrs: number[][]) =>
  msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(4, op), ...attrs]);

/** The scoring head as an ONNX model (IR version 8, opset 13). */
export function scoreHeadModel(): Uint8Array {
  const graph = [
    node('LogSoftmax', ['logits'], ['log_probs'], [attrInt('axis', -1)]),
    node('GatherElements', ['log_probs', 'target'], ['logprob'], [attrInt('axis', 1)]),
    node('ArgMax', ['logits'], ['argmax'], [attrInt('axis', 1), attrInt('keepdims', 1)]),
    str(2, 'llmops_score_head'),
    valueInfo(11, 'logits', FLOAT, ['n', 'vocab']),
    valueInfo(11, 'target', INT64, ['n', 1]),
    valueInfo(12, 'logprob', FLOAT, ['n', 1]),
    valueInfo(12, 'argmax', INT64, ['n', 1]),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, 'llmops'), ...msg(7, graph), ...msg(8, [str(1, ''), int(2, 13)])]);
}

export class ScoreHead {
  private constructor(
    private readonly ort: typeof import('onnxruntime-node'),
    private readonly session: InferenceSession,
  ) {}

  static async create(threads: number): Promise<ScoreHead> {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(scoreHeadModel(), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      extra: {session: {intra_op: {allow_spinning: '0'}}}, // as the eval engine's model session
    });
    return new ScoreHead(ort, session);
  }

  /** Log-probability of target[i] under row i of logits ([n, vocab]) and whether it is the row's argmax. */
  async run(logits: Float32Array, n: number, vocab: number, target: BigInt64Array): Promise<{logprob: Float32Array; argmax: BigInt64Array}> {
    const {Tensor} = this.ort;
    const out = await this.session.run({logits: new Tensor('float32', logits, [n, vocab]), target: new Tensor('int64', target, [n, 1])});
    return {logprob: out.logprob!.data as Float32Array, argmax: out.argmax!.data as BigInt64Array};
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
