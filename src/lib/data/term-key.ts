/**
 * Keys of drift-profile terms (lowercased letters and numbers, 2..24 characters) for the term
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

/**
 * Per UTF-16 code unit, for the scan: KIND says whether it is part of a term once lowercased (a
 * letter or number: TERM), not (0), or HARD: its lowercase is not one code unit ("İ"), depends on
 * what follows ("Σ", final sigma), or it is half of a surrogate pair; a prompt with a HARD unit
 * takes the regex path (terms()). LOWER is the unit's lowercase (itself when HARD). ASCII is filled
 * at load, the rest on the first non-ASCII character (~20 ms, once a thread): terms() on text
 * with any non-ASCII character measured ~3x slower than the scan, and most real text has some.
 */
export const TERM = 1;
export const HARD = 2;
const KIND = new Uint8Array(65536);
export const LOWER = new Uint16Array(65536);
for (let c = 0; c < 128; c++) {
  const lower = c >= 65 && c <= 90 ? c + 32 : c;
  LOWER[c] = lower;
  KIND[c] = (lower >= 97 && lower <= 122) || (lower >= 48 && lower <= 57) ? TERM : 0;
}
let unicodeReady = false;
function unicodeTables(): void {
  const termChar = /^[\p{L}\p{N}]$/u;
  for (let c = 128; c < 65536; c++) {
    LOWER[c] = c;
    if ((c >= 0xd800 && c <= 0xdfff) || c === 0x3a3) {
      KIND[c] = HARD;
      continue;
    }
    const l = String.fromCharCode(c).toLowerCase();
    if (l.length !== 1) {
      KIND[c] = HARD;
      continue;
    }
    LOWER[c] = l.charCodeAt(0);
    KIND[c] = termChar.test(l) ? TERM : 0;
  }
  unicodeReady = true;
}

/** The scan class of code unit c: TERM, 0 or HARD (building the non-ASCII tables the first time). */
export function kindOf(c: number): number {
  if (c >= 128 && !unicodeReady) unicodeTables();
  return KIND[c]!;
}

/** The lowercase of code unit c (building the non-ASCII tables the first time one is needed). */
export function lowerOf(c: number): number {
  if (c >= 128 && !unicodeReady) unicodeTables();
  return LOWER[c]!;
}
/** FNV-1a over the lowercased code units of s[a..b). */
export function fnvLower(s: string, a: number, b: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < b; i++) h = Math.imul(h ^ lowerOf(s.charCodeAt(i)), 0x01000193);
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
