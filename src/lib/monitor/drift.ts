/**
 * Drift of live prompts against the training prompts.
 *
 * - Lengths: Population Stability Index over the reference's length bins. Empty bins get a small
 *   epsilon, as Evidently does, so one empty bin does not make PSI infinite.
 * - Terms: Jensen-Shannon divergence (base 2, so in [0, 1]) between document-frequency
 *   distributions over the reference's top terms plus one "other" bucket for every other term.
 * - Moved terms: the largest changes in the share of prompts that contain a term, including terms
 *   the reference never saw.
 */
import {lengthBin, LENGTH_EDGES, type ReferenceProfile, type RequestProfile} from '../profile/profile.js';

export const PSI_EPSILON = 1e-4;

export interface DriftThresholds {
  psi_notable: number;
  psi_significant: number;
  js_threshold: number;
  min_requests: number;
}

export type DriftStatus = 'ok' | 'notable' | 'drift' | 'not_enough_traffic' | 'no_reference';

export interface MovedTerm {
  term: string;
  /** Share of reference prompts containing the term. */
  reference: number;
  /** Share of recent prompts containing the term. */
  current: number;
  delta: number;
}

export interface DriftResult {
  status: DriftStatus;
  /** Requests whose profile was compared (the newest in the window, up to monitor.drift.max_requests). */
  requests: number;
  reference?: {source: string; count: number};
  message?: string;
  features: {
    prompt_length?: {psi: number; level: 'ok' | 'notable' | 'significant'; edges: number[]; reference: number[]; current: number[]};
    terms?: {js: number; drifted: boolean; other_reference: number; other_current: number};
  };
  top_moved_terms: MovedTerm[];
  thresholds: DriftThresholds;
}

/** PSI = sum (a - e) * ln(a / e) over bins, on proportions with zeros replaced by epsilon. */
export function psi(expected: readonly number[], actual: readonly number[], eps = PSI_EPSILON): number {
  const e = proportions(expected, eps);
  const a = proportions(actual, eps);
  let s = 0;
  for (let i = 0; i < e.length; i++) s += (a[i]! - e[i]!) * Math.log(a[i]! / e[i]!);
  return s;
}

/** Jensen-Shannon divergence in bits between two (unnormalised) count vectors; 0 = same, 1 = disjoint. */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const ps = sum(p);
  const qs = sum(q);
  if (ps === 0 || qs === 0) return ps === qs ? 0 : 1;
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / ps;
    const qi = q[i]! / qs;
    const m = (pi + qi) / 2;
    if (pi > 0) d += 0.5 * pi * Math.log2(pi / m);
    if (qi > 0) d += 0.5 * qi * Math.log2(qi / m);
  }
  return Math.max(0, Math.min(1, d));
}

function proportions(counts: readonly number[], eps: number): number[] {
  const total = sum(counts);
  return counts.map((c) => (total === 0 || c === 0 ? eps : c / total));
}

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

export function psiLevel(value: number, t: DriftThresholds): 'ok' | 'notable' | 'significant' {
  return value >= t.psi_significant ? 'significant' : value >= t.psi_notable ? 'notable' : 'ok';
}

/** Bins traffic lengths with the reference's own edges (fixed edges, so both sides agree). */
function binLengths(edges: readonly number[], lens: Iterable<number>): number[] {
  const counts = new Array<number>(edges.length).fill(0);
  const same = edges.length === LENGTH_EDGES.length && edges.every((e, i) => e === LENGTH_EDGES[i]);
  for (const len of lens) {
    let b: number;
    if (same) b = lengthBin(len);
    else {
      b = 0;
      for (let i = edges.length - 1; i >= 0; i--) if (len >= edges[i]!) {
        b = i;
        break;
      }
    }
    counts[b]!++;
  }
  return counts;
}

export function computeDrift(
  reference: ReferenceProfile | undefined,
  profiles: readonly RequestProfile[],
  thresholds: DriftThresholds,
  opts: {referenceSource?: string; topTerms?: number} = {},
): DriftResult {
  const base = {requests: profiles.length, features: {}, top_moved_terms: [] as MovedTerm[], thresholds};
  if (!reference) {
    return {...base, status: 'no_reference', message: 'No reference profile: drift is not measured.'};
  }
  const refInfo = {source: opts.referenceSource ?? 'reference', count: reference.count};
  if (profiles.length < thresholds.min_requests) {
    return {
      ...base,
      status: 'not_enough_traffic',
      reference: refInfo,
      message: `Not enough traffic to measure drift: ${profiles.length} request(s) with a profile, ${thresholds.min_requests} needed (monitor.drift.min_requests).`,
    };
  }
  const edges = reference.length.edges;
  const current = binLengths(edges, profiles.map((p) => p.len));
  const lengthPsi = psi(reference.length.counts, current);

  const refTerms = Object.keys(reference.terms);
  const index = new Map(refTerms.map((t, i) => [t, i]));
  const cur = new Array<number>(refTerms.length + 1).fill(0);
  const unseen = new Map<string, number>();
  for (const p of profiles) {
    for (const t of p.terms) {
      const i = index.get(t);
      if (i === undefined) {
        cur[refTerms.length]!++;
        unseen.set(t, (unseen.get(t) ?? 0) + 1);
      } else cur[i]!++;
    }
  }
  const refVec = refTerms.map((t) => reference.terms[t]!);
  const refOther = Math.max(0, reference.total_terms - sum(refVec));
  refVec.push(refOther);
  const js = jensenShannon(refVec, cur);

  const n = profiles.length;
  const moved: MovedTerm[] = refTerms.map((t, i) => {
    const r = reference.count > 0 ? reference.terms[t]! / reference.count : 0;
    const c = cur[i]! / n;
    return {term: t, reference: r, current: c, delta: c - r};
  });
  for (const [t, c] of unseen) moved.push({term: t, reference: 0, current: c / n, delta: c / n});
  moved.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || (a.term < b.term ? -1 : 1));

  const level = psiLevel(lengthPsi, thresholds);
  const drifted = js >= thresholds.js_threshold;
  const status: DriftStatus = level === 'significant' || drifted ? 'drift' : level === 'notable' ? 'notable' : 'ok';
  return {
    ...base,
    status,
    reference: refInfo,
    features: {
      prompt_length: {psi: round(lengthPsi), level, edges: [...edges], reference: [...reference.length.counts], current},
      terms: {
        js: round(js),
        drifted,
        other_reference: round(refOther / Math.max(1, sum(refVec))),
        other_current: round(cur[refTerms.length]! / Math.max(1, sum(cur))),
      },
    },
    top_moved_terms: moved.slice(0, opts.topTerms ?? 10).map((m) => ({...m, reference: round(m.reference), current: round(m.current), delta: round(m.delta)})),
  };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
