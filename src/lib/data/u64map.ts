/**
 * An open-addressing hash map from 64-bit keys (two uint32 halves) to int32 values, in typed arrays.
 *
 * Dedup keeps one entry per unique document (exact) and one per LSH band per kept document
 * (near): with a JS Map that is ~80 bytes an entry and GC pressure; here it is 12 bytes a slot
 * at a load factor of at most 1/2, so memory per million documents is predictable (docs/data.md).
 */
export class U64Map {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private val: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1 << 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.val.byteLength;
  }

  private slot(hi: number, lo: number): number {
    let i = (Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b) >>> 0) & this.mask;
    for (;;) {
      if (this.val[i] === -1) return i;
      if (this.hi[i] === hi && this.lo[i] === lo) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(hi: number, lo: number): number | undefined {
    const i = this.slot(hi >>> 0, lo >>> 0);
    const v = this.val[i]!;
    return v === -1 ? undefined : v;
  }

  /** Sets the value only when the key is absent; returns the value now stored. */
  setIfAbsent(hi: number, lo: number, value: number): number {
    hi >>>= 0;
    lo >>>= 0;
    let i = this.slot(hi, lo);
    const cur = this.val[i]!;
    if (cur !== -1) return cur;
    if ((this.size + 1) * 2 > this.val.length) {
      this.grow();
      i = this.slot(hi, lo);
    }
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.val[i] = value;
    this.size++;
    return value;
  }

  private grow(): void {
    const {hi, lo, val} = this;
    const cap = val.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let j = 0; j < val.length; j++) {
      if (val[j] === -1) continue;
      const i = this.slot(hi[j]!, lo[j]!);
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.val[i] = val[j]!;
    }
  }
}
