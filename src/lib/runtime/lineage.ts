/** Where a run came from: code version, config hash, dataset and parent, for `runs show` and compare. */
import {createHash} from 'node:crypto';
import {probe} from '../system/exec.js';
import {canonicalJson} from '../util/json.js';

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

export function configHash(settings: unknown): string {
  return createHash('sha256').update(canonicalJson(settings)).digest('hex').slice(0, 16);
}
