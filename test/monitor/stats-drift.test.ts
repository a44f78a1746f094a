import {describe, expect, it} from 'vitest';
import {computeDrift, jensenShannon, psi} from '../../src/lib/monitor/drift.js';
import {ReferenceProfileBuilder, requestProfile} from '../../src/lib/profile/profile.js';
import {histogram, quantile} from '../../src/lib/monitor/stats.js';
import {DRIFTED_PROMPTS, rng, TRAIN_PROMPTS} from './fixture.js';

/** numpy's default (linear) quantile, by sorting: the reference the quickselect must match. */
function sortedQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

const thresholds = {psi_notable: 0.1, psi_significant: 0.2, js_threshold: 0.1, min_requests: 30};

describe('quantiles', () => {
  it('match a sort-based quantile on random, sorted, reversed and duplicate-heavy data', () => {
    const r = rng(7);
    const cases = [
      Array.from({length: 10_001}, () => r() * 1000),
      Array.from({length: 999}, (_, i) => i),
      Array.from({length: 1000}, (_, i) => 1000 - i),
      Array.from({length: 5000}, () => Math.floor(r() * 4)),
      [42],
      [1, 2],
    ];
    for (const values of cases) {
      for (const q of [0, 0.5, 0.95, 0.99, 1]) {
        expect(quantile(Float64Array.from(values), q)).toBeCloseTo(sortedQuantile(values, q), 9);
      }
    }
  });

  it('are null for no values', () => {
    expect(quantile(new Float64Array(0), 0.5)).toBeNull();
  });

  it('histogram counts every value once and keeps outliers in the last bin', () => {
    const values = Float64Array.from([...Array.from({length: 1000}, (_, i) => 100 + (i % 100)), 1e6]);
    const h = histogram(values);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(1001);
    expect(h.edges.length).toBe(h.counts.length + 1);
    expect(h.edges.at(-1)!).toBeLessThan(1e6); // the one outlier did not stretch the axis
  });
});

describe('PSI and Jensen-Shannon', () => {
  it('PSI is 0 for the same distribution and matches a hand computation otherwise', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
    // expected 50/50, actual 80/20: (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5)
    expect(psi([50, 50], [80, 20])).toBeCloseTo(0.3 * Math.log(1.6) + -0.3 * Math.log(0.4), 12);
  });

  it('PSI stays finite when a bin is empty on one side (epsilon)', () => {
    const v = psi([100, 0], [50, 50]);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(0.2);
  });

  it('JS divergence is 0 for equal, 1 for disjoint, and symmetric', () => {
    expect(jensenShannon([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 12);
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(jensenShannon([3, 1], [1, 3])).toBeCloseTo(jensenShannon([1, 3], [3, 1]), 12);
    // p = (0.75, 0.25), q = (0.25, 0.75): 1 - H2(0.5 mix) terms, computed by hand
    const h = (p: number) => -p * Math.log2(p) - (1 - p) * Math.log2(1 - p);
    expect(jensenShannon([3, 1], [1, 3])).toBeCloseTo(h(0.5) - h(0.25), 12);
  });
});

describe('computeDrift', () => {
  const builder = new ReferenceProfileBuilder();
  for (let i = 0; i < 20; i++) for (const p of TRAIN_PROMPTS) builder.add(p);
  const reference = builder.build();

  it('finds no drift when traffic looks like the training prompts', () => {
    const profiles = Array.from({length: 80}, (_, i) => requestProfile(TRAIN_PROMPTS[i % TRAIN_PROMPTS.length]!));
    const d = computeDrift(reference, profiles, thresholds);
    expect(d.status).toBe('ok');
    expect(d.features.prompt_length!.psi).toBeLessThan(0.01);
    expect(d.features.terms!.js).toBeLessThan(0.01);
  });

  it('flags drift on different prompts and names the new terms among the moved ones', () => {
    const profiles = Array.from({length: 60}, (_, i) => requestProfile(DRIFTED_PROMPTS[i % DRIFTED_PROMPTS.length]!));
    const d = computeDrift(reference, profiles, thresholds);
    expect(d.status).toBe('drift');
    expect(d.features.prompt_length!.level).toBe('significant');
    expect(d.features.terms!.js).toBeGreaterThan(0.5);
    const moved = d.top_moved_terms.map((m) => m.term);
    expect(moved.some((t) => ['dragons', 'recipe', 'robots', 'about', 'and', 'the'].includes(t))).toBe(true);
    // the terms the traffic lost are reported too, as negative moves
    const all = computeDrift(reference, profiles, thresholds, {topTerms: 200}).top_moved_terms;
    expect(all.find((m) => m.term === 'invoice')!.delta).toBeLessThan(0);
  });

  it('says "not enough traffic" below min_requests instead of a verdict', () => {
    const d = computeDrift(reference, [requestProfile(DRIFTED_PROMPTS[0]!)], thresholds);
    expect(d.status).toBe('not_enough_traffic');
    expect(d.message).toMatch(/not enough traffic/i);
    expect(d.features).toEqual({});
  });

  it('says so when there is no reference profile', () => {
    expect(computeDrift(undefined, [], thresholds).status).toBe('no_reference');
  });
});
