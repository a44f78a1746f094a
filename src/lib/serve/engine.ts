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
import type {ModelFolder} from '../model/folder.js';
import {usesLengthAttention} from './graph-ops.js';

type Ort = typeof import('onnxruntime-node');

/** One layer's key or value cache: float32, or float16 as raw IEEE half bits. */
export type KvArray = Float32Array | Uint16Array;

/** What the graph itself says about its inputs (session.inputMetadata), not what we assume. */
export interface GraphLayout {
  kvType: 'float32' | 'float16';
  nKvHead: number;
  headDim: number;
  hasPositionIds: boolean;
  hasAttentionMask: boolean;
  /** optimum's merged decoders take a boolean saying whether the past is used. */
  hasUseCacheBranch: boolean;
  /** Element types of input_ids and attention_mask as declared (onnxruntime-genai graphs may use int32). */
  idsType: IntType;
  maskType: IntType;
  /**
   * Whether rows of different lengths may share the cache with left padding. Not for graphs whose
   * attention takes per-row lengths (com.microsoft GroupQueryAttention, as onnxruntime-genai's
   * builder writes): it reads the lengths from the mask and assumes each row's cache starts at 0.
   */
  leftPadding: boolean;
}

export type IntType = 'int64' | 'int32';

function intType(meta: InferenceSession.ValueMetadata | undefined, name: string, onnxPath: string | null): IntType {
  const t = meta?.isTensor ? meta.type : 'int64';
  if (t !== 'int64' && t !== 'int32') throw new Error(`${onnxPath}: input ${name} of type ${String(t)} is not supported (int64 or int32 expected)`);
  return t;
}

export function graphLayout(
  session: Pick<InferenceSession, 'inputMetadata' | 'inputNames'>,
  model: Pick<ModelFolder, 'nKvHead' | 'headDim' | 'onnxPath'>,
  ops: {lengthAttention: boolean} = {lengthAttention: false},
): GraphLayout {
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const past = meta.get('past_key_values.0.key');
  if (!past || !past.isTensor || !meta.has('input_ids')) {
    throw new Error(
      `${model.onnxPath} is not a decoder with a KV cache: expected inputs input_ids and past_key_values.N.key/value, found ${session.inputNames.join(', ')}`,
    );
  }
  if (past.type !== 'float32' && past.type !== 'float16') {
    throw new Error(`${model.onnxPath}: KV cache of type ${past.type} is not supported (float32 or float16 expected)`);
  }
  // [batch, kv_heads, past, head_dim]; symbolic dims fall back to config.json's numbers.
  const dim = (i: number, fallback: number) => (typeof past.shape[i] === 'number' && (past.shape[i] as number) > 0 ? (past.shape[i] as number) : fallback);
  return {
    kvType: past.type,
    nKvHead: dim(1, model.nKvHead),
    headDim: dim(3, model.headDim),
    hasPositionIds: meta.has('position_ids'),
    hasAttentionMask: meta.has('attention_mask'),
    hasUseCacheBranch: meta.has('use_cache_branch'),
    idsType: intType(meta.get('input_ids'), 'input_ids', model.onnxPath),
    maskType: intType(meta.get('attention_mask'), 'attention_mask', model.onnxPath),
    leftPadding: !ops.lengthAttention,
  };
}

const halfTable = (() => {
  // IEEE 754 half -> float32 for every 16-bit pattern: one table lookup per logit.
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    t[h] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return t;
})();

function toFloat32(data: unknown, from: number, to: number): Float32Array {
  if (data instanceof Float32Array) return data.subarray(from, to);
  const src = data as Uint16Array;
  const out = new Float32Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = halfTable[src[i]!]!;
  return out;
}

/**
 * One forward pass's inputs: `past` holds 2*n_layer arrays of [b, KV, pastLen, D]; `pastTensors`,
 * when given, are the same data as the tensors the previous step returned (fed back as they are).
 */
export interface StepInput {
  inputIds: BigInt64Array;
  positions: BigInt64Array;
  mask: BigInt64Array;
  past: KvArray[];
  b: number;
  s: number;
  pastLen: number;
  pastTensors?: OrtTensor[];
}

export class OnnxModel {
  // The cache's input and output names, built once rather than on every step.
  private readonly pastNames: string[];
  private readonly presentNames: string[];
  private ones = new BigInt64Array(0);

  private constructor(
    readonly spec: ModelFolder,
    readonly layout: GraphLayout,
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {
    const names = (prefix: string) => Array.from({length: 2 * spec.nLayer}, (_, j) => `${prefix}.${j >> 1}.${j & 1 ? 'value' : 'key'}`);
    this.pastNames = names('past_key_values');
    this.presentNames = names('present');
  }

  /**
   * `spin: false` makes idle intra-op threads sleep instead of spinning: with several threads on
   * cores shared with other work, spinning threads take the cores the working ones wait for.
   */
  static async load(spec: ModelFolder, threads = 1, opts: {spin?: boolean} = {}): Promise<OnnxModel> {
    if (!spec.onnxPath) throw new Error(`${spec.dir} has no ONNX graph`);
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(spec.onnxPath, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      ...(opts.spin === false ? {extra: {session: {intra_op: {allow_spinning: '0'}}}} : {}),
    });
    return new OnnxModel(spec, graphLayout(session, spec, {lengthAttention: await usesLengthAttention(spec.onnxPath)}), ort, session);
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  /** Elements of one row's cache per layer and position: kv heads x head size. */
  get kvWidth(): number {
    return this.layout.nKvHead * this.layout.headDim;
  }

  newKv(n: number): KvArray {
    return this.layout.kvType === 'float16' ? new Uint16Array(n) : new Float32Array(n);
  }

  /** The graph's inputs: only those it declares, the KV cache in its own element type. */
  private feeds({inputIds, positions, mask, past, b, s, pastLen, pastTensors}: StepInput): Record<string, OrtTensor> {
    const {Tensor} = this.ort;
    const {kvType, nKvHead, headDim} = this.layout;
    const int = (type: IntType, data: BigInt64Array, dims: number[]) => (type === 'int64' ? new Tensor('int64', data, dims) : new Tensor('int32', Int32Array.from(data, Number), dims));
    const feeds: Record<string, OrtTensor> = {input_ids: int(this.layout.idsType, inputIds, [b, s])};
    if (this.layout.hasAttentionMask) feeds.attention_mask = int(this.layout.maskType, mask, [b, pastLen + s]);
    if (this.layout.hasPositionIds) feeds.position_ids = new Tensor('int64', positions, [b, s]);
    if (this.layout.hasUseCacheBranch) feeds.use_cache_branch = new Tensor('bool', [pastLen > 0], [1]);
    // The previous step's present tensors are this step's past as they are: no new wrappers.
    const dims = [b, nKvHead, pastLen, headDim];
    for (let j = 0; j < this.pastNames.length; j++) feeds[this.pastNames[j]!] = pastTensors?.[j] ?? new Tensor(kvType, past[j]!, dims);
    return feeds;
  }

  /**
   * One forward pass: the logits of the last position of each row ([B, V], float32) and the
   * presents ([B, KV, pastLen+S, D]), as arrays and as the tensors the next step may feed back.
   */
  async forward(input: StepInput): Promise<{lastLogits: Float32Array; present: KvArray[]; presentTensors: OrtTensor[]}> {
    const {vocabSize} = this.spec;
    const {b, s} = input;
    const feeds = this.feeds(input);
    const out = await this.session.run(feeds);
    const logits = out.logits!.data;
    let lastLogits: Float32Array;
    if (s === 1 || b === 1) {
      // The last positions are contiguous (a decode step, or one row): a view, or one conversion.
      const from = (s - 1) * vocabSize;
      lastLogits = toFloat32(logits, from, from + b * vocabSize);
    } else {
      lastLogits = new Float32Array(b * vocabSize);
      for (let r = 0; r < b; r++) {
        const from = ((r + 1) * s - 1) * vocabSize;
        lastLogits.set(toFloat32(logits, from, from + vocabSize), r * vocabSize);
      }
    }
    const presentTensors = this.presentNames.map((name) => out[name]!);
    return {lastLogits, present: presentTensors.map((t) => t.data as KvArray), presentTensors};
  }

  /**
   * Logits of every position ([B, S, V], float32) for rows without a cache: what scoring (eval,
   * echo with logprobs) needs, where generation needs only the last position.
   */
  async allLogits(inputIds: BigInt64Array, positions: BigInt64Array, mask: BigInt64Array, b: number, s: number): Promise<Float32Array> {
    const out = await this.session.run(this.feeds({inputIds, positions, mask, past: this.emptyPast(), b, s, pastLen: 0}), ['logits']);
    const data = out.logits!.data;
    return toFloat32(data, 0, (data as ArrayLike<number>).length);
  }

  /** `n` ones for an attention mask: a view of one array that grows by doubling (never written through). */
  onesMask(n: number): BigInt64Array {
    if (this.ones.length < n) this.ones = new BigInt64Array(Math.max(n, 2 * this.ones.length)).fill(1n);
    return this.ones.subarray(0, n);
  }

  emptyPast(): KvArray[] {
    return Array.from({length: 2 * this.spec.nLayer}, () => this.newKv(0));
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
  cache: KvArray[] = [];
  /** `cache` as the last step's output tensors, while rows have not changed since. */
  private cacheTensors: OrtTensor[] | undefined;

  constructor(private readonly model: OnnxModel) {}

  /** Runs a prompt alone (B=1) and returns a one-row batch plus the logits of its last token. */
  static async prefill<T>(model: OnnxModel, item: T, prompt: number[]): Promise<{batch: Batch<T>; logits: Float32Array}> {
    const s = prompt.length;
    const ids = BigInt64Array.from(prompt, (x) => BigInt(x));
    const pos = BigInt64Array.from({length: s}, (_, i) => BigInt(i));
    const mask = new BigInt64Array(s).fill(1n);
    const {lastLogits, present, presentTensors} = await model.forward({inputIds: ids, positions: pos, mask, past: model.emptyPast(), b: 1, s, pastLen: 0});
    const batch = new Batch<T>(model);
    batch.rows = [{item, pad: 0, next: -1}];
    batch.len = s;
    batch.cache = present;
    batch.cacheTensors = presentTensors;
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
    // One unpadded row (a single stream) attends to everything: a view of a shared all-ones array
    // instead of a new mask filled with BigInts at every step.
    const mask = b === 1 && this.rows[0]!.pad === 0 ? this.model.onesMask(t + 1) : new BigInt64Array(b * (t + 1));
    for (let r = 0; r < b; r++) {
      const row = this.rows[r]!;
      ids[r] = BigInt(row.next);
      pos[r] = BigInt(t - row.pad);
      if (b > 1 || row.pad > 0) mask.fill(1n, r * (t + 1) + row.pad, (r + 1) * (t + 1));
    }
    const {lastLogits, present, presentTensors} = await this.model.forward({inputIds: ids, positions: pos, mask, past: this.cache, b, s: 1, pastLen: t, ...(this.cacheTensors ? {pastTensors: this.cacheTensors} : {})});
    this.cache = present;
    this.cacheTensors = presentTensors;
    this.len = t + 1;
    return lastLogits;
  }

  /** Moves the rows of `other` into this batch (both caches re-laid to a common length). */
  merge(other: Batch<T>): void {
    if (this.rows.length === 0) {
      this.rows = other.rows;
      this.len = other.len;
      this.cache = other.cache;
      this.cacheTensors = other.cacheTensors;
      return;
    }
    this.cacheTensors = undefined;
    const len = Math.max(this.len, other.len);
    const {nKvHead: nHead, headDim} = this.model.layout;
    const b = this.rows.length + other.rows.length;
    const cache = this.cache.map(() => this.model.newKv(b * nHead * len * headDim));
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
    // Called twice per step: nothing is allocated until a row actually goes.
    let first = -1;
    for (let i = 0; i < this.rows.length && first < 0; i++) if (drop(this.rows[i]!)) first = i;
    if (first < 0) return;
    this.cacheTensors = undefined;
    const keep = this.rows.map((r, i) => [r, i] as const).filter(([r], i) => i < first || (i > first && !drop(r)));
    if (keep.length === 0) {
      this.rows = [];
      this.len = 0;
      this.cache = [];
      return;
    }
    const trim = Math.min(...keep.map(([r]) => r.pad));
    const len = this.len - trim;
    const {nKvHead: nHead, headDim} = this.model.layout;
    this.cache = this.cache.map((src) => {
      const dst = this.model.newKv(keep.length * nHead * len * headDim);
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
