/** The manifest of a prepared dataset (manifest.json): deterministic, no timestamps or timings. */
import type {PiiCounts} from '../util/pii.js';
import type {TokenStats} from './tokens.js';
import type {RuleTally} from './rule-tally.js';

export const MANIFEST_VERSION = 2;

export interface PrepParams {
  format: string;
  text_unit: string;
  field_map: Record<string, string>;
  normalize: Record<string, boolean>;
  quality: Record<string, unknown>;
  pii: {mode: 'redact' | 'drop' | 'keep'; types: string[]};
  dedup: {
    exact: boolean;
    near: boolean;
    ngram: number;
    num_perm: number;
    threshold: number;
    bands: number;
    rows: number;
    effective_threshold: number;
    seed: number;
  };
  split: {train: number; val: number; test: number; seed: number};
  tokenizer: {name: string; sha256: string | null};
  context_length: number;
  context_policy: 'keep' | 'truncate' | 'drop';
}

export interface OutputInfo {
  sha256: string;
  records: number;
  bytes: number;
}

export interface Manifest {
  version: number;
  id: string;
  kind: 'text' | 'chat' | 'mixed';
  llmops_version: string;
  inputs: Array<{name: string; sha256: string; bytes: number; records: number; format: string}>;
  params: PrepParams;
  params_sha256: string;
  counts: {
    read: number;
    rejected: {total: number; by_reason: Record<string, number>; by_rule: RuleTally[]};
    /** Records read per kind ("unknown": could not be read as a record). */
    by_kind: {text: number; chat: number; unknown: number};
    duplicates: {exact: number; near: number};
    written: {train: number; val: number; test: number};
  };
  /** Whether every input's own record count equals its records written, rejected and duplicate. */
  reconciled: boolean;
  /** Input-level warnings (an empty input, counts that do not reconcile); rule warnings are derived. */
  warnings: string[];
  formats: Record<string, number>;
  pii: {mode: string; counts: PiiCounts; records: number};
  tokens: TokenStats;
  outputs: Record<string, OutputInfo>;
}
