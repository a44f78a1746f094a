/** Worker-thread entry: runs BatchProcessor on batches posted by the pool (pool.ts). */
import {parentPort, workerData} from 'node:worker_threads';
import {isLlmopsError} from '../errors.js';
import {BatchProcessor, type ProcessOptions, type RawItem} from './process.js';

const proc = new BatchProcessor(workerData as ProcessOptions);
const ready = proc.init();

parentPort!.on('message', async (msg: {seq: number; items: RawItem[]}) => {
  try {
    await ready;
    const results = proc.process(msg.items);
    // Typed arrays are handed over, not copied.
    const transfer: ArrayBuffer[] = [];
    for (const r of results) {
      if (r.t === 1 && r.sh) transfer.push(r.sh.buffer as ArrayBuffer, r.bands!.buffer as ArrayBuffer);
    }
    parentPort!.postMessage({seq: msg.seq, results}, transfer);
  } catch (err) {
    const e = err as Error;
    parentPort!.postMessage({
      seq: msg.seq,
      error: isLlmopsError(err) ? {llmops: true, ...err.toJSON(), fix: err.fix} : {llmops: false, message: e.message, stack: e.stack},
    });
  }
});
