/**
 * Order statistics over a column of numbers, exact.
 *
 * Quickselect instead of a full sort: sorting 1M doubles in a Float64Array took ~200 ms here,
 * selecting three ranks takes a few ms (bench/monitor.bench.mjs).
 */

/** Linear-interpolated quantile (numpy's default), q in [0, 1]. Reorders `values` in place. */
export function quantile(values: Float64Array, q: number): number | null {
  const n = values.length;
  if (n === 0) return null;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = select(values, lo, 0, n - 1);
  if (hi === lo) return a;
  // After select(lo), everything right of lo is >= a: the next rank is the minimum there.
  let b = Number.POSITIVE_INFINITY;
  for (let i = lo + 1; i < n; i++) if (values[i]! < b) b = values[i]!;
  return a + (b - a) * (pos - lo);
}

/** Several quantiles of the same values (each call reorders the array, which stays a permutation). */
export function quantiles(values: Float64Array, qs: readonly number[]): Array<number | null> {
  return qs.map((q) => quantile(values, q));
}

/** Hoare quickselect with median-of-three pivots: the k-th smallest value. */
function select(a: Float64Array, k: number, left: number, right: number): number {
  while (right > left) {
    const mid = (left + right) >>> 1;
    // median of three to avoid quadratic behaviour on sorted input (timestamps often are)
    if (a[mid]! < a[left]!) swap(a, mid, left);
    if (a[right]! < a[left]!) swap(a, right, left);
    if (a[right]! < a[mid]!) swap(a, right, mid);
    const pivot = a[mid]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k]!;
  }
  return a[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

export interface Histogram {
  /** Bin edges, length bins + 1. */
  edges: number[];
  counts: number[];
}

/**
 * Histogram with "nice" linear bins between the minimum and the 99.5th percentile; values above
 * go to the last bin so one slow outlier does not squash every other bar into the first one.
 */
export function histogram(values: Float64Array, bins = 30): Histogram {
  if (values.length === 0) return {edges: [], counts: []};
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) if (v < min) min = v;
  const top = quantile(values, 0.995)!;
  const step = niceStep(Math.max(top - min, 1e-9) / bins);
  const start = Math.floor(min / step) * step;
  const n = Math.max(1, Math.ceil((top - start) / step) + (top === start ? 1 : 0));
  const counts = new Array<number>(n).fill(0);
  for (const v of values) {
    const i = Math.min(n - 1, Math.max(0, Math.floor((v - start) / step)));
    counts[i]!++;
  }
  const edges = Array.from({length: n + 1}, (_, i) => round(start + i * step));
  return {edges, counts};
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
