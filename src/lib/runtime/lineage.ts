/** Where a run came from: code version, config hash, dataset and parent, for `runs show` and compare. */
import {createHash} from 'node:crypto';
import {probe} from './exec.js';

export interface GitInfo {
  commit: string | null;
  dirty: boolean | null;
}

export async function gitInfo(cwd: string): Promise<GitInfo> {
  const head = await probe('git', ['rev-parse', 'HEAD'], {cwd, timeoutMs: 5000});
  if (!head.ok) return {commit: null, dirty: null};
  const st = await probe('git', ['status', '--porcelain', '--untracked-files=no'], {cwd, timeoutMs: 10_000});
  return {commit: head.stdout.trim(), dirty: st.ok ? st.stdout.trim().length > 0 : null};
}

/** JSON with sorted keys, so that the same settings always hash the same. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function configHash(settings: unknown): string {
  return createHash('sha256').update(stableStringify(settings)).digest('hex').slice(0, 16);
}
