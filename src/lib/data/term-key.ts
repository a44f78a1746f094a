/**
 * Keys of drift-profile terms (lowercase ASCII letters/digits, 2..24 characters) for the term
 * tables in profile-terms.ts, computed while scanning a text (textstats.ts, TermBatch.add):
 *
 * - a term of at most 10 characters is packed exactly, 6 bits a character, the first five in k0
 *   and the rest in k1 (>= 0): equal keys mean equal terms, so a table lookup compares two ints;
 * - a longer term (or one with non-ASCII letters) gets k0 = FNV-1a hash of its lowercased code
 *   units and k1 = LONG, and a lookup compares its characters.
 *
 * Comparing characters for every term measured ~60% of the table's time (50 vs 23 ns a term).
 */
export const LONG = -1;
export const PACKED_MAX = 10;

/** The 6-bit code of a lowercase ASCII letter or digit (k): digits 1..10, letters 11..36. */
export const code6 = (k: number): number => (k <= 57 ? k - 47 : k - 86);

/** FNV-1a over s[a..b) with ASCII capitals lowercased. */
export function fnvLower(s: string, a: number, b: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < b; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
}

/**
 * Writes the term s[a..b) as (start, end, k0, k1) at buf[at..at+4), given its packing so far (lo:
 * the first five characters, hi: the next five; unused past PACKED_MAX).
 */
export function putTerm(buf: Int32Array, at: number, s: string, a: number, b: number, lo: number, hi: number): void {
  buf[at] = a;
  buf[at + 1] = b;
  if (b - a <= PACKED_MAX) {
    buf[at + 2] = lo;
    buf[at + 3] = hi;
  } else {
    buf[at + 2] = fnvLower(s, a, b);
    buf[at + 3] = LONG;
  }
}

/** Slot hash of a key. */
export function keyHash(k0: number, k1: number): number {
  let h = Math.imul(k0 ^ Math.imul(k1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35) ^ (h >>> 13);
}

/** The key of an already lowercased term (the regex path): [k0, k1]. */
export function keyOfTerm(t: string): [number, number] {
  if (t.length > PACKED_MAX) return [fnvLower(t, 0, t.length), LONG];
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return [fnvLower(t, 0, t.length), LONG];
    if (i < 5) lo = (lo << 6) | code6(c);
    else hi = (hi << 6) | code6(c);
  }
  return [lo, hi];
}
