/**
 * What the graph's nodes are, where serving must know and onnxruntime-node's session does not say
 * (it exposes inputs and outputs only). Found by scanning the graph file for the op's name: a
 * protobuf stores op_type as plain bytes, and the graph file holds no weights when they are external
 * (an inline-weights graph is read once, at load, as onnxruntime itself reads it).
 */
import {createReadStream} from 'node:fs';

/** com.microsoft GroupQueryAttention: attention from per-row lengths (onnxruntime-genai's graphs). */
const LENGTH_ATTENTION = Buffer.from('GroupQueryAttention');

export async function fileContains(file: string, needle: Buffer): Promise<boolean> {
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, {highWaterMark: 1 << 20})) {
    const window = Buffer.concat([tail, chunk as Buffer]);
    if (window.includes(needle)) return true;
    // Keep the last bytes, so a name split across two chunks is still found.
    tail = window.subarray(Math.max(0, window.length - needle.length + 1));
  }
  return false;
}

/** True when the graph uses an attention that reads per-row lengths instead of honouring a padded mask. */
export async function usesLengthAttention(onnxPath: string | null): Promise<boolean> {
  return onnxPath ? fileContains(onnxPath, LENGTH_ATTENTION) : false;
}
