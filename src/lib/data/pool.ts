/**
 * Runs BatchProcessor over batches on worker threads while keeping results in submission order,
 * so outputs are byte-identical whatever the number of workers. `workers: 0` runs in-process
 * (also the fallback when the compiled worker is not there, e.g. under vitest on the sources).
 */
import {existsSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';
import {LlmopsError, type ExitCodeName} from '../errors.js';
import {BatchProcessor, type Block, type PackedBatch, type ProcessOptions, type RawItem} from './process.js';
import type {ProfilePart} from './profile-terms.js';

type Consumer = (batch: PackedBatch) => void;
type Batch = RawItem[] | Block;

interface WorkerError {
  llmops: boolean;
  code?: ExitCodeName;
  message: string;
  fix?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export function workerScript(): string | undefined {
  const p = fileURLToPath(new URL('./worker.js', import.meta.url));
  return existsSync(p) ? p : undefined;
}

export class OrderedPool {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private seq = 0;
  private nextOut = 0;
  private readonly done = new Map<number, PackedBatch>();
  private readonly waiting: Array<() => void> = [];
  private readonly queue: Array<{seq: number; batch: Batch}> = [];
  private failure?: Error;
  private drainWaiters: Array<() => void> = [];
  private inProc?: BatchProcessor;
  private readonly finishing = new Map<Worker, (p: ProfilePart | undefined) => void>();
  readonly size: number;

  private constructor(
    private readonly consume: Consumer,
    size: number,
  ) {
    this.size = size;
  }

  static async create(opts: ProcessOptions, workers: number, consume: Consumer): Promise<OrderedPool> {
    const script = workers > 0 ? workerScript() : undefined;
    const pool = new OrderedPool(consume, script ? workers : 0);
    if (!script) {
      pool.inProc = new BatchProcessor(opts);
      await pool.inProc.init();
      return pool;
    }
    for (let i = 0; i < workers; i++) {
      const w = new Worker(script, {workerData: opts});
      w.on('message', (m: Parameters<OrderedPool['onMessage']>[1]) => pool.onMessage(w, m));
      w.on('error', (err) => pool.fail(err));
      pool.workers.push(w);
      pool.idle.push(w);
    }
    return pool;
  }

  /** Queues a batch; resolves when there is room for another (bounded memory). */
  async submit(batch: Batch): Promise<void> {
    if (this.failure) throw this.failure;
    const seq = this.seq++;
    if (this.inProc) {
      let results: PackedBatch;
      try {
        results = this.inProc.process(batch);
      } catch (err) {
        this.failure = err as Error;
        throw err;
      }
      this.deliver(seq, results);
      return;
    }
    this.queue.push({seq, batch});
    this.dispatch();
    while (!this.failure && this.seq - this.nextOut > this.size * 3) {
      await new Promise<void>((r) => this.waiting.push(r));
    }
    if (this.failure) throw this.failure;
  }

  async drain(): Promise<void> {
    while (!this.failure && this.nextOut < this.seq) await new Promise<void>((r) => this.drainWaiters.push(r));
    if (this.failure) throw this.failure;
  }

  /**
   * After drain(): each processor's drift-profile term counts not yet sent with a batch. Workers
   * keep their tables across batches (process.ts), so this is where most of them arrive.
   */
  async finishTerms(): Promise<ProfilePart[]> {
    if (this.inProc) {
      const p = this.inProc.flushTerms();
      return p ? [p] : [];
    }
    const parts = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<ProfilePart | undefined>((resolve, reject) => {
            this.finishing.set(w, resolve);
            w.once('error', reject);
            w.postMessage({finish: true});
          }),
      ),
    );
    return parts.filter((p): p is ProfilePart => p !== undefined);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      // A block's bytes are a private copy (sources.ts): hand them over instead of cloning.
      w.postMessage(job, Array.isArray(job.batch) ? [] : [job.batch.bytes.buffer as ArrayBuffer]);
    }
  }

  private onMessage(w: Worker, m: {seq: number; batch?: PackedBatch; error?: WorkerError} | {finish: true; profile?: ProfilePart}): void {
    if ('finish' in m) {
      this.finishing.get(w)?.(m.profile);
      this.finishing.delete(w);
      return;
    }
    this.idle.push(w);
    if (m.error) {
      const e = m.error;
      const err = e.llmops && e.code ? new LlmopsError(e.code, e.message, {fix: e.fix, details: e.details}) : Object.assign(new Error(e.message), {stack: e.stack});
      this.fail(err);
      return;
    }
    this.deliver(m.seq, m.batch!);
    this.dispatch();
  }

  private deliver(seq: number, results: PackedBatch): void {
    this.done.set(seq, results);
    while (this.done.has(this.nextOut)) {
      const r = this.done.get(this.nextOut)!;
      this.done.delete(this.nextOut);
      this.nextOut++;
      try {
        this.consume(r);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    this.wake();
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.wake();
  }

  private wake(): void {
    for (const r of this.waiting.splice(0)) r();
    for (const r of this.drainWaiters.splice(0)) r();
  }
}
