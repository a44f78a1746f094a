/**
 * Fair service of concurrent requests on one model.
 *
 * A bounded FIFO queue feeds up to `maxConcurrent` running sequences. Each loop turn admits at most
 * one waiting request (its prefill) and then advances every running sequence by one token, so a
 * long prompt cannot starve the others and every stream makes progress at the same rate.
 * `batch` mode decodes all running sequences in one forward pass (one batch); `interleave` mode
 * runs one pass per sequence in turn. bench/serve.bench.mjs measures both (docs/benchmarks.md).
 */
import {Batch, type OnnxModel} from './engine.js';
import {Sequence, type GenerationRequest, type GenerationResult} from './sequence.js';
import {logprobsAt, type TokenLogprob} from './logprobs.js';
import type {ModelTokenizer} from './tokenizer.js';

export type ScheduleMode = 'batch' | 'interleave';

export interface SchedulerOptions {
  maxConcurrent: number;
  maxQueue: number;
  mode: ScheduleMode;
}

export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`The request queue is full (${maxQueue} waiting).`);
  }
}

export class Scheduler {
  private readonly waiting: Sequence[] = [];
  /** Work that needs the model between decode steps (prompt scoring for echo + logprobs). */
  private readonly tasks: Array<{run: () => Promise<void>; cancel: () => void}> = [];
  private batches: Batch<Sequence>[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly loopDone: Promise<void>;
  private readonly stopIds: Set<number>;

  constructor(
    private readonly model: OnnxModel,
    private readonly tokenizer: ModelTokenizer,
    readonly opts: SchedulerOptions,
  ) {
    const spec = model.spec;
    // Every EOS id of the model ends a generation (generation_config lists, config, tokenizer).
    this.stopIds = new Set([...spec.eosIds, ...tokenizer.eosIds]);
    this.loopDone = this.loop();
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.batches.reduce((n, b) => n + b.size, 0);
  }

  /** Queues a generation; throws QueueFullError at once when the queue is full. */
  submit(req: GenerationRequest): Promise<GenerationResult> {
    if (this.closed) throw new Error('the server is shutting down');
    if (this.waiting.length >= this.opts.maxQueue) throw new QueueFullError(this.opts.maxQueue);
    const seq = new Sequence(req, this.tokenizer, this.stopIds);
    this.waiting.push(seq);
    // A cancelled request must not wait for the next model step to be answered.
    req.signal?.addEventListener('abort', () => this.wakeUp(), {once: true});
    this.wakeUp();
    return seq.promise;
  }

  /**
   * Log-probabilities of every prompt token after the first (and the `n` most likely tokens at
   * each position), computed in the loop between decode steps so the model runs one pass at a time.
   */
  scorePrompt(ids: number[], n: number): Promise<TokenLogprob[]> {
    if (this.closed) return Promise.reject(new Error('the server is shutting down'));
    return new Promise((resolve, reject) => {
      this.tasks.push({
        run: async () => {
          try {
            resolve(await this.promptLogprobs(ids, n));
          } catch (error) {
            reject(error as Error);
          }
        },
        cancel: () => reject(new Error('the server is shutting down')),
      });
      this.wakeUp();
    });
  }

  private async promptLogprobs(ids: number[], n: number): Promise<TokenLogprob[]> {
    const s = ids.length;
    const vocab = this.model.spec.vocabSize;
    const out: TokenLogprob[] = [{id: ids[0]!, logprob: null, top: null}];
    if (s < 2) return out;
    const logits = await this.model.allLogits(
      BigInt64Array.from(ids.slice(0, s - 1), (x) => BigInt(x)),
      BigInt64Array.from({length: s - 1}, (_, i) => BigInt(i)),
      new BigInt64Array(s - 1).fill(1n),
      1,
      s - 1,
    );
    for (let t = 1; t < s; t++) {
      const {logprob, top} = logprobsAt(logits, (t - 1) * vocab, vocab, ids[t]!, n);
      out.push({id: ids[t]!, logprob, top});
    }
    return out;
  }

  /** Stops accepting work, cancels what is queued and running, and waits for the loop to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.waiting.splice(0)) s.finish('cancelled', 'server shutting down');
    for (const b of this.batches) for (const r of b.rows) r.item.finish('cancelled', 'server shutting down');
    for (const t of this.tasks.splice(0)) t.cancel();
    this.wakeUp();
    await this.loopDone;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      this.dropCancelledWaiting();
      let worked = false;
      while (this.tasks.length > 0) {
        await this.tasks.shift()!.run();
        worked = true;
      }
      if (this.waiting.length > 0 && this.numRunning < this.opts.maxConcurrent) {
        await this.admit(this.waiting.shift()!);
        worked = true;
      }
      for (const batch of [...this.batches]) {
        if (this.closed) break;
        batch.remove((r) => {
          if (r.item.cancelled) r.item.finish('cancelled');
          return r.item.finished !== null;
        });
        if (batch.size === 0) continue;
        worked = true;
        await this.stepBatch(batch);
      }
      this.batches = this.batches.filter((b) => b.size > 0);
      if (!worked && !this.closed) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (this.waiting.length > 0 || this.numRunning > 0 || this.tasks.length > 0) this.wakeUp();
        });
      }
    }
  }

  private dropCancelledWaiting(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i]!.cancelled) this.waiting.splice(i, 1)[0]!.finish('cancelled');
    }
  }

  private async admit(seq: Sequence): Promise<void> {
    seq.startedAt = performance.now();
    const vocab = this.model.spec.vocabSize;
    try {
      const {batch, logits} = await Batch.prefill(this.model, seq, seq.req.promptIds);
      if (seq.cancelled) return seq.finish('cancelled');
      const next = seq.accept(logits, 0, vocab);
      if (next < 0) return;
      batch.rows[0]!.next = next;
      // A graph that cannot take left padding (GroupQueryAttention) decodes each sequence on its own.
      if (this.opts.mode === 'batch' && this.model.layout.leftPadding && this.batches.length > 0) this.batches[0]!.merge(batch);
      else this.batches.push(batch);
    } catch (error) {
      seq.finish('error', `inference failed: ${(error as Error).message}`);
    }
  }

  private async stepBatch(batch: Batch<Sequence>): Promise<void> {
    const vocab = this.model.spec.vocabSize;
    try {
      const logits = await batch.step();
      batch.rows.forEach((row, r) => {
        if (row.item.finished) return;
        if (row.item.cancelled) return row.item.finish('cancelled');
        const next = row.item.accept(logits, r * vocab, vocab);
        if (next >= 0) row.next = next;
      });
    } catch (error) {
      for (const r of batch.rows) r.item.finish('error', `inference failed: ${(error as Error).message}`);
    }
    batch.remove((r) => r.item.finished !== null);
  }
}
