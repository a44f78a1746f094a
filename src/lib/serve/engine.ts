/**
 * The generation engine on onnxruntime-node: one ONNX session with a KV cache, and batches of
 * sequences that decode one token per step together.
 *
 * A batch keeps the `present.*` tensors of its last step as the next step's past, so a decode step
 * costs the same whatever the length so far and copies nothing. Rows of different lengths share
 * the cache with left padding (attention_mask 0 over the pads; position_ids count real tokens
 * only); caches are copied only when a row joins or leaves.
 */
import type {InferenceSession, Tensor as OrtTensor} from 'onnxruntime-node';
import type {ModelSpec} from './model-dir.js';

type Ort = typeof import('onnxruntime-node');

export class OnnxModel {
  private constructor(
    readonly spec: ModelSpec,
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {}

  static async load(spec: ModelSpec, threads = 1): Promise<OnnxModel> {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(spec.onnxPath, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new OnnxModel(spec, ort, session);
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  /**
   * One forward pass. `past` holds 2*n_layer arrays of [B, H, pastLen, D]; returns the logits of
   * the last position of each row ([B, V]) and the presents ([B, H, pastLen+S, D]).
   */
  async forward(
    inputIds: BigInt64Array,
    positions: BigInt64Array,
    mask: BigInt64Array,
    past: Float32Array[],
    b: number,
    s: number,
    pastLen: number,
  ): Promise<{lastLogits: Float32Array; present: Float32Array[]}> {
    const {Tensor} = this.ort;
    const {nLayer, nHead, headDim, vocabSize} = this.spec;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', inputIds, [b, s]),
      attention_mask: new Tensor('int64', mask, [b, pastLen + s]),
      position_ids: new Tensor('int64', positions, [b, s]),
    };
    for (let i = 0; i < nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = new Tensor('float32', past[2 * i]!, [b, nHead, pastLen, headDim]);
      feeds[`past_key_values.${i}.value`] = new Tensor('float32', past[2 * i + 1]!, [b, nHead, pastLen, headDim]);
    }
    const out = await this.session.run(feeds);
    const logits = out.logits!.data as Float32Array;
    let lastLogits: Float32Array;
    if (s === 1) lastLogits = logits;
    else {
      lastLogits = new Float32Array(b * vocabSize);
      for (let r = 0; r < b; r++) lastLogits.set(logits.subarray(((r + 1) * s - 1) * vocabSize, (r + 1) * s * vocabSize), r * vocabSize);
    }
    const present: Float32Array[] = [];
    for (let i = 0; i < nLayer; i++) {
      present.push(out[`present.${i}.key`]!.data as Float32Array, out[`present.${i}.value`]!.data as Float32Array);
    }
    return {lastLogits, present};
  }

  /**
   * Logits of every position ([B, S, V]) for rows without a cache: what scoring (eval, echo with
   * logprobs) needs, where generation needs only the last position.
   */
  async allLogits(inputIds: BigInt64Array, positions: BigInt64Array, mask: BigInt64Array, b: number, s: number): Promise<Float32Array> {
    const {Tensor} = this.ort;
    const {nLayer, nHead, headDim} = this.spec;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', inputIds, [b, s]),
      attention_mask: new Tensor('int64', mask, [b, s]),
      position_ids: new Tensor('int64', positions, [b, s]),
    };
    const empty = new Float32Array(0);
    for (let i = 0; i < nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = new Tensor('float32', empty, [b, nHead, 0, headDim]);
      feeds[`past_key_values.${i}.value`] = new Tensor('float32', empty, [b, nHead, 0, headDim]);
    }
    const out = await this.session.run(feeds, ['logits']);
    return out.logits!.data as Float32Array;
  }

  emptyPast(b = 1): Float32Array[] {
    return Array.from({length: 2 * this.spec.nLayer}, () => new Float32Array(0 * b));
  }
}

/** A row of a batch: whatever the scheduler tracks per sequence, plus its leading padding. */
export interface BatchRow<T> {
  item: T;
  pad: number;
  /** The token to feed at the next step. */
  next: number;
}

export class Batch<T> {
  rows: BatchRow<T>[] = [];
  /** Cache length (columns), padding included. */
  len = 0;
  cache: Float32Array[] = [];

  constructor(private readonly model: OnnxModel) {}

  /** Runs a prompt alone (B=1) and returns a one-row batch plus the logits of its last token. */
  static async prefill<T>(model: OnnxModel, item: T, prompt: number[]): Promise<{batch: Batch<T>; logits: Float32Array}> {
    const s = prompt.length;
    const ids = BigInt64Array.from(prompt, (x) => BigInt(x));
    const pos = BigInt64Array.from({length: s}, (_, i) => BigInt(i));
    const mask = new BigInt64Array(s).fill(1n);
    const {lastLogits, present} = await model.forward(ids, pos, mask, model.emptyPast(), 1, s, 0);
    const batch = new Batch<T>(model);
    batch.rows = [{item, pad: 0, next: -1}];
    batch.len = s;
    batch.cache = present;
    return {batch, logits: lastLogits};
  }

  get size(): number {
    return this.rows.length;
  }

  /** One decode step for every row (each row's `next` token); returns logits [B, V]. */
  async step(): Promise<Float32Array> {
    const b = this.rows.length;
    const t = this.len;
    const ids = new BigInt64Array(b);
    const pos = new BigInt64Array(b);
    const mask = new BigInt64Array(b * (t + 1));
    for (let r = 0; r < b; r++) {
      const row = this.rows[r]!;
      ids[r] = BigInt(row.next);
      pos[r] = BigInt(t - row.pad);
      mask.fill(1n, r * (t + 1) + row.pad, (r + 1) * (t + 1));
    }
    const {lastLogits, present} = await this.model.forward(ids, pos, mask, this.cache, b, 1, t);
    this.cache = present;
    this.len = t + 1;
    return lastLogits;
  }

  /** Moves the rows of `other` into this batch (both caches re-laid to a common length). */
  merge(other: Batch<T>): void {
    if (this.rows.length === 0) {
      this.rows = other.rows;
      this.len = other.len;
      this.cache = other.cache;
      return;
    }
    const len = Math.max(this.len, other.len);
    const {nHead, headDim} = this.model.spec;
    const b = this.rows.length + other.rows.length;
    const cache = this.cache.map(() => new Float32Array(b * nHead * len * headDim));
    let dstRow = 0;
    for (const src of [this as Batch<T>, other]) {
      const shift = len - src.len;
      for (let r = 0; r < src.rows.length; r++, dstRow++) {
        for (let c = 0; c < cache.length; c++) {
          for (let h = 0; h < nHead; h++) {
            const from = (r * nHead + h) * src.len * headDim;
            cache[c]!.set(src.cache[c]!.subarray(from, from + src.len * headDim), ((dstRow * nHead + h) * len + shift) * headDim);
          }
        }
      }
    }
    this.rows = [...this.rows.map((r) => ({...r, pad: r.pad + len - this.len})), ...other.rows.map((r) => ({...r, pad: r.pad + len - other.len}))];
    this.len = len;
    this.cache = cache;
  }

  /** Drops rows (finished or cancelled) and the leading columns that only padded them. */
  remove(drop: (row: BatchRow<T>) => boolean): void {
    const keep = this.rows.map((r, i) => [r, i] as const).filter(([r]) => !drop(r));
    if (keep.length === this.rows.length) return;
    if (keep.length === 0) {
      this.rows = [];
      this.len = 0;
      this.cache = [];
      return;
    }
    const trim = Math.min(...keep.map(([r]) => r.pad));
    const len = this.len - trim;
    const {nHead, headDim} = this.model.spec;
    this.cache = this.cache.map((src) => {
      const dst = new Float32Array(keep.length * nHead * len * headDim);
      keep.forEach(([, i], k) => {
        for (let h = 0; h < nHead; h++) {
          const from = ((i * nHead + h) * this.len + trim) * headDim;
          dst.set(src.subarray(from, from + len * headDim), (k * nHead + h) * len * headDim);
        }
      });
      return dst;
    });
    this.rows = keep.map(([r]) => ({...r, pad: r.pad - trim}));
    this.len = len;
  }
}
