/**
 * The output folder of `data prep` is replaced file by file (train.jsonl, manifest.json, card.md...),
 * so it must be a folder llmops made: a marker file says so. A non-empty folder without one (a home
 * folder, `/`, someone's project) is refused unless --force.
 */
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {LlmopsError} from '../errors.js';

export const DATASET_MARKER = '.llmops-dataset';

/** A manifest written by an llmops from before the marker file (it names its own params hash). */
function olderLlmopsManifest(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {llmops_version?: unknown; params_sha256?: unknown; outputs?: unknown};
    return typeof m.llmops_version === 'string' && typeof m.params_sha256 === 'string' && typeof m.outputs === 'object';
  } catch {
    return false;
  }
}

export function checkOutDir(outDir: string, force: boolean): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) {
    throw new LlmopsError('USAGE', `--out ${outDir} is a file, not a folder.`, {fix: 'Try this: --out a new or empty folder, such as data/prepared.'});
  }
  if (force) return;
  const entries = readdirSync(outDir);
  if (entries.length === 0 || existsSync(path.join(outDir, DATASET_MARKER)) || olderLlmopsManifest(outDir)) return;
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
  throw new LlmopsError('USAGE', `--out ${outDir} is not empty and is not a dataset folder made by llmops (no ${DATASET_MARKER} file): it holds ${shown}. data prep would replace train.jsonl, manifest.json, card.md and other files there.`, {
    fix: 'Try this: --out a new or empty folder (such as data/prepared), or add --force to write into this one anyway.',
    details: {out: outDir, entries: entries.length},
  });
}

export function writeMarker(dir: string): void {
  writeFileSync(path.join(dir, DATASET_MARKER), 'This folder was written by `llmops data prep`; the next prep may replace its files.\n');
}
