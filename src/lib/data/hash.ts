/**
 * Fast non-cryptographic 32-bit hashing for shingles, bands and splits.
 *
 * Hand-written (murmur3's finaliser and a word-hash over UTF-16 code units) because the hot loop
 * hashes every word of every document: a library call per word (xxhash-wasm) costs a JS->WASM
 * crossing and a string copy each time, which measured slower than these few Math.imul steps.
 */

/** murmur3's 32-bit finaliser: a bijection with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3-style hash of a string's code units (not bytes: only consistency within llmops matters). */
export function hashString(s: string, seed = 0): number {
  let h = seed ^ s.length;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return fmix32(h);
}

/** Combines an accumulated hash with one more 32-bit value (order-sensitive). */
export function combine(acc: number, v: number): number {
  let k = Math.imul(v, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  acc ^= Math.imul(k, 0x1b873593);
  acc = (acc << 13) | (acc >>> 19);
  return (Math.imul(acc, 5) + 0xe6546b64) | 0;
}

/** A uniform number in [0, 1) from a hex digest and a seed (for the train/val/test split). */
export function unitFromHex(hex: string, seed: number): number {
  return hashString(hex, seed) / 4294967296;
}
