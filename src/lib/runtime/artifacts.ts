/** Registering a run's checkpoints and model in the ledger, with sizes and (for files) hashes. */
import {createHash} from 'node:crypto';
import {createReadStream, existsSync, readdirSync, statSync} from 'node:fs';
import path from 'node:path';
import type {Ledger} from '../ledger/ledger.js';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function pathSize(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(p, {withFileTypes: true})) total += pathSize(path.join(p, e.name));
  return total;
}

/**
 * A path the run reported, as seen from here: remote backends report remote paths, which
 * fetchArtifacts mirrored under the local run dir at the same place relative to the run's id.
 */
export function localizePath(p: string, runId: string, runDir: string): string {
  if (existsSync(p)) return p;
  const marker = `/${runId}/`;
  const i = p.indexOf(marker);
  if (i >= 0) return path.join(runDir, p.slice(i + marker.length));
  return p;
}

export async function registerArtifact(
  ledger: Ledger,
  runId: string,
  a: {kind: string; path: string; meta?: Record<string, unknown>},
): Promise<boolean> {
  if (!existsSync(a.path)) return false;
  const st = statSync(a.path);
  const sha256 = st.isFile() ? await sha256File(a.path) : undefined;
  ledger.addArtifact({runId, kind: a.kind, path: a.path, sha256, sizeBytes: pathSize(a.path), meta: a.meta});
  return true;
}
