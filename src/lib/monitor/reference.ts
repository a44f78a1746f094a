/**
 * Where the drift reference of a deployment comes from: the exported model's
 * `reference_profile.json`, else the `profile.json` of the dataset its run (or that run's base
 * run, for a finetune) was trained on.
 */
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import type {ReferenceProfile} from '../profile/profile.js';

export interface LoadedReference {
  profile?: ReferenceProfile;
  /** The file the profile came from. */
  source?: string;
  /** Why there is none, or why a file was ignored. */
  problem?: string;
}

export function loadReference(ledger: Ledger, dep: Pick<DeploymentRow, 'model_dir' | 'model_run_id'>): LoadedReference {
  const candidates: string[] = [path.join(dep.model_dir, 'reference_profile.json')];
  let runId = dep.model_run_id;
  for (let hops = 0; runId && hops < 8; hops++) {
    const run = ledger.findRun(runId);
    if (!run) break;
    if (run.dataset_id) {
      const ds = ledger.getDataset(run.dataset_id);
      if (ds) candidates.push(path.join(ds.path, 'profile.json'));
      break;
    }
    runId = run.parent_run_id;
  }
  const problems: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const parsed = readProfile(file);
    if (parsed.profile) return {profile: parsed.profile, source: file, problem: problems.join('; ') || undefined};
    problems.push(parsed.problem!);
  }
  return {
    problem: problems.length > 0 ? problems.join('; ') : `no reference profile (looked for ${candidates.join(', ')})`,
  };
}

export function readProfile(file: string): {profile?: ReferenceProfile; problem?: string} {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return {problem: `${file} is not valid JSON (${(error as Error).message}); ignored`};
  }
  const p = raw as Partial<ReferenceProfile>;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    typeof p.count === 'number' &&
    Array.isArray(p.length?.edges) &&
    Array.isArray(p.length?.counts) &&
    p.length.edges.length === p.length.counts.length &&
    typeof p.terms === 'object' &&
    p.terms !== null &&
    typeof p.total_terms === 'number';
  if (!ok) return {problem: `${file} is not a reference profile (expected {count, length: {edges, counts}, terms, total_terms}); ignored`};
  return {profile: p as ReferenceProfile};
}
