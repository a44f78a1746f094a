/**
 * Parity of an exported model: onnxruntime-node's logits against the torch logits the trainer saved
 * in parity_inputs.json. Each sample is checked twice: one call with an empty KV cache (the first
 * call a server makes), and a prefix call followed by a one-token call through the returned cache,
 * so a broken cache path fails here rather than in production.
 */
import {readFileSync, existsSync} from 'node:fs';
import path from 'node:path';
import {LlmopsError} from '../errors.js';

export interface ParitySample {
  text?: string;
  input_ids: number[];
  logits_first: number[];
  logits_last: number[];
}

export interface ParityInputs {
  threshold?: number;
  n_layer: number;
  n_head: number;
  /** Key/value heads (grouped-query attention); n_head when absent. */
  n_kv_head?: number;
  head_dim: number;
  /** The graph checked, relative to the model folder (default onnx/model.onnx). */
  onnx?: string;
  /** 'fp16' graphs take and return float16 caches and logits. */
  dtype?: 'fp32' | 'fp16';
  samples: ParitySample[];
}

export interface ParityResult {
  maxAbsDiff: number;
  ok: boolean;
  threshold: number;
  /** Max difference per sample: [empty-cache call, through-the-cache call]. */
  samples: Array<{text?: string; tokens: number; fullDiff: number; cachedDiff: number}>;
}

export const PARITY_THRESHOLD = 1e-4;

function readInputs(modelDir: string): ParityInputs {
  const file = path.join(modelDir, 'parity_inputs.json');
  if (!existsSync(file)) {
    throw new LlmopsError('INPUT', `${file} is missing: this model directory was not exported by the llmops trainer.`, {
      fix: 'Try this: re-export the run with `llmops export RUN_ID`.',
    });
  }
  let data: ParityInputs;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as ParityInputs;
  } catch (error) {
    throw new LlmopsError('INPUT', `${file} is not valid JSON: ${(error as Error).message}`, {
      fix: 'Try this: re-export the run with `llmops export RUN_ID`.',
    });
  }
  if (!Array.isArray(data.samples) || !data.n_layer || !data.n_head || !data.head_dim) {
    throw new LlmopsError('INPUT', `${file}: expected n_layer, n_head, head_dim and samples[].`, {
      fix: 'Try this: re-export the run with `llmops export RUN_ID`.',
    });
  }
  return data;
}

/** IEEE half -> number (onnxruntime-node hands float16 tensors back as Uint16Array). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function asFloat32(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, halfToNumber);
  return Float32Array.from(data as ArrayLike<number>);
}

function maxDiff(got: Float32Array, offset: number, want: number[]): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs((got[offset + i] ?? Number.NaN) - (want[i] ?? Number.NaN));
    // NaN compares false everywhere: count it as an infinite difference.
    m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(m, d);
  }
  return m;
}

export async function checkParity(modelDir: string): Promise<ParityResult> {
  const inputs = readInputs(modelDir);
  const onnxPath = path.join(modelDir, inputs.onnx ?? path.join('onnx', 'model.onnx'));
  if (!existsSync(onnxPath)) {
    throw new LlmopsError('INPUT', `${onnxPath} is missing.`, {fix: 'Try this: re-export the run with `llmops export RUN_ID`.'});
  }
  const threshold = inputs.threshold ?? PARITY_THRESHOLD;
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnxPath, {intraOpNumThreads: 1, interOpNumThreads: 1});
  const {n_layer: layers, head_dim: headDim} = inputs;
  const kvHeads = inputs.n_kv_head ?? inputs.n_head;
  const emptyCache = () =>
    inputs.dtype === 'fp16'
      ? new ort.Tensor('float16', new Uint16Array(0), [1, kvHeads, 0, headDim])
      : new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);

  type Feeds = Record<string, InstanceType<typeof ort.Tensor>>;
  const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);

  async function step(ids: number[], pastLen: number, past: Feeds | null) {
    const feeds: Feeds = {
      input_ids: int64(ids),
      attention_mask: int64(Array.from({length: pastLen + ids.length}, () => 1)),
      position_ids: int64(ids.map((_, i) => pastLen + i)),
    };
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value'] as const) {
        feeds[`past_key_values.${l}.${kind}`] =
          past?.[`present.${l}.${kind}`] ?? emptyCache();
      }
    }
    return (await session.run(feeds)) as unknown as Feeds;
  }

  const samples: ParityResult['samples'] = [];
  try {
    for (const s of inputs.samples) {
      const n = s.input_ids.length;
      const vocab = s.logits_last.length;
      const full = await step(s.input_ids, 0, null);
      const logits = asFloat32(full.logits!.data);
      const fullDiff = Math.max(maxDiff(logits, 0, s.logits_first), maxDiff(logits, (n - 1) * vocab, s.logits_last));
      let cachedDiff = 0;
      if (n > 1) {
        const prefix = await step(s.input_ids.slice(0, -1), 0, null);
        const last = await step(s.input_ids.slice(-1), n - 1, prefix);
        cachedDiff = maxDiff(asFloat32(last.logits!.data), 0, s.logits_last);
      }
      samples.push({text: s.text, tokens: n, fullDiff, cachedDiff});
    }
  } finally {
    await session.release();
  }
  const maxAbsDiff = Math.max(0, ...samples.map((s) => Math.max(s.fullDiff, s.cachedDiff)));
  return {maxAbsDiff, ok: samples.length > 0 && maxAbsDiff <= threshold, threshold, samples};
}
