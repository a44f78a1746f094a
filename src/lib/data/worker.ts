/** Worker-thread entry: runs BatchProcessor on batches posted by the pool (pool.ts). */
import {parentPort, workerData} from 'node:worker_threads';
import {isLlmopsError} from '../errors.js';
import {BatchProcessor, transferList, type Block, type ProcessOptions, type RawItem} from './process.js';

const proc = new BatchProcessor(workerData as ProcessOptions);
const ready = proc.init();

parentPort!.on('message', async (msg: {seq: number; batch: RawItem[] | Block} | {finish: true}) => {
  if ('finish' in msg) {
    // After the last batch: the drift-profile term counts not yet flushed.
    const profile = proc.flushTerms();
    parentPort!.postMessage({finish: true, profile}, profile ? [profile.counts.buffer as ArrayBuffer] : []);
    return;
  }
  try {
    await ready;
    const batch = proc.process(msg.batch);
    // The packed arrays are handed over, not copied.
    parentPort!.postMessage({seq: msg.seq, batch}, transferList(batch));
  } catch (err) {
    const e = err as Error;
    parentPort!.postMessage({
      seq: msg.seq,
      error: isLlmopsError(err) ? {llmops: true, ...err.toJSON(), fix: err.fix} : {llmops: false, message: e.message, stack: e.stack},
    });
  }
});
