/**
 * Prompt profiles for drift monitoring, shared by data prep (the reference profile of the training
 * prompts), the server (a compact profile per request) and monitor (the comparison).
 *
 * Reference profile (`profile.json` in a prepared dataset, copied to `model/reference_profile.json`
 * by the trainer's export):
 *   {version: 1, count, length: {edges: number[], counts: number[]}, terms: {term: count}, total_terms}
 * Request profile (requests.profile_json): {len: chars, words: n, terms: string[] (distinct, <= 32)}
 *
 * Lengths are in characters of the prompt text (user turns for chat). Terms are lowercase word
 * unigrams of letters/digits, 2..24 characters.
 */

import {entropyBits, PII_TYPES, scanPii} from '../util/pii.js';

export const PROFILE_VERSION = 1;
/** Fixed length bin edges (chars), so reference and traffic are binned the same way. */
export const LENGTH_EDGES = [0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];
export const REFERENCE_TOP_TERMS = 2000;
export const REQUEST_MAX_TERMS = 32;

export interface ReferenceProfile {
  version: number;
  count: number;
  length: {edges: number[]; counts: number[]};
  terms: Record<string, number>;
  total_terms: number;
  /**
   * Present when the profile was built from a sample of the training prompts: 1 in `every` by
   * content key (data prep on large inputs, profile-terms.ts). count, length and terms are then
   * the sample's, so their ratios still estimate the whole set's.
   */
  sample?: {every: number};
}

export interface RequestProfile {
  len: number;
  words: number;
  terms: string[];
}

const TERM = /[\p{L}\p{N}]{2,24}/gu;

export function terms(text: string): string[] {
  return (text.toLowerCase().match(TERM) ?? []) as string[];
}

export function lengthBin(len: number): number {
  for (let i = LENGTH_EDGES.length - 1; i >= 0; i--) if (len >= LENGTH_EDGES[i]!) return i;
  return 0;
}

const ALL_PII = new Set(PII_TYPES);
const PLACEHOLDER_RE = /<(?:EMAIL|PHONE|IP_ADDRESS|CREDIT_CARD|SSN|IBAN|SECRET)>/g;

/**
 * A token that looks like a key rather than a word: long, or letters and digits mixed with the
 * spread of a random string (sk-proj-…, AKIA…, a 40-character AWS secret cut at its slashes).
 */
export function keyLike(token: string): boolean {
  if (token.length >= 20) return true;
  if (token.length < 8) return false;
  return /\d/.test(token) && /[a-z]/i.test(token) && entropyBits(token) >= 2.9;
}

/**
 * The words of a prompt that may be kept in the ledger: secrets and personal data are taken out by
 * data prep's own detectors (pii.ts) first, then key-like tokens are dropped, so that a pasted key
 * never becomes a drift term, whatever log_text says.
 */
export function safeTerms(prompt: string): string[] {
  const clean = scanPii(prompt, ALL_PII, true).text.replace(PLACEHOLDER_RE, ' ');
  const out: string[] = [];
  for (const raw of clean.split(/[^\p{L}\p{N}]+/u)) {
    if (!raw || keyLike(raw)) continue;
    for (const t of terms(raw)) out.push(t);
  }
  return out;
}

export function requestProfile(prompt: string): RequestProfile {
  const ts = safeTerms(prompt);
  const distinct: string[] = [];
  const seen = new Set<string>();
  for (const t of ts) {
    if (seen.has(t)) continue;
    seen.add(t);
    distinct.push(t);
    if (distinct.length >= REQUEST_MAX_TERMS) break;
  }
  return {len: prompt.length, words: ts.length, terms: distinct};
}

/** Streaming builder of a reference profile: add() each training prompt, then build(). */
export class ReferenceProfileBuilder {
  private count = 0;
  private readonly lengthCounts = new Array<number>(LENGTH_EDGES.length).fill(0);
  private readonly termCounts = new Map<string, number>();
  private totalTerms = 0;

  add(prompt: string): void {
    this.count++;
    this.lengthCounts[lengthBin(prompt.length)]!++;
    // Count each term once per prompt: the sketch compares document frequencies with requests.
    for (const t of new Set(terms(prompt))) {
      this.termCounts.set(t, (this.termCounts.get(t) ?? 0) + 1);
      this.totalTerms++;
    }
  }

  build(topK = REFERENCE_TOP_TERMS): ReferenceProfile {
    return referenceProfile(this.count, this.lengthCounts, this.termCounts, this.totalTerms, topK);
  }
}

/** A reference profile from its counts: the topK terms by document frequency, ties by term. */
export function referenceProfile(count: number, lengthCounts: number[], termCounts: Map<string, number>, totalTerms: number, topK = REFERENCE_TOP_TERMS): ReferenceProfile {
  const top = [...termCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topK);
  return {
    version: PROFILE_VERSION,
    count,
    length: {edges: [...LENGTH_EDGES], counts: [...lengthCounts]},
    terms: Object.fromEntries(top),
    total_terms: totalTerms,
  };
}

/** The prompt text of a canonical record: the text, or the system+user turns of a conversation. */
export function promptOf(record: {text?: string; messages?: Array<{role: string; content: string}>}): string {
  if (typeof record.text === 'string') return record.text;
  return (record.messages ?? [])
    .filter((m) => m.role === 'user' || m.role === 'system')
    .map((m) => m.content)
    .join('\n');
}
