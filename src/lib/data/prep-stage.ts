/**
 * Output staging: every output of a prep is written into a temporary sibling of the output folder
 * and moved into place at the end, the manifest last, so a folder with a manifest.json is always
 * complete and a failed prep leaves the previous output as it was.
 */
import {createHash, randomBytes} from 'node:crypto';
import {existsSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {Manifest} from './manifest.js';
import {DATASET_MARKER, writeMarker} from './out-dir.js';
import {JsonlWriter} from './writer.js';

export const OUTPUT_FILES = ['train.jsonl', 'val.jsonl', 'test.jsonl', 'rejected.jsonl', 'duplicates.jsonl', 'profile.json', 'card.md'] as const;

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export type StageWriters = Record<'train' | 'val' | 'test' | 'rejected' | 'duplicates', JsonlWriter>;

export class OutputStage {
  readonly tmp: string;
  readonly w: StageWriters;

  constructor(readonly outDir: string) {
    mkdirSync(path.dirname(outDir), {recursive: true});
    this.tmp = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(this.tmp, {recursive: true});
    const writer = (name: string) => new JsonlWriter(path.join(this.tmp, `${name}.jsonl`));
    this.w = {train: writer('train'), val: writer('val'), test: writer('test'), rejected: writer('rejected'), duplicates: writer('duplicates')};
  }

  /** Where the near-dedup shingles spill (removed before the outputs are listed). */
  get spillFile(): string {
    return path.join(this.tmp, '.shingles.bin');
  }

  /** Closes the JSONL writers and writes profile.json: the outputs with their hashes, counts and sizes. */
  closeOutputs(profileText: string): Manifest['outputs'] {
    rmSync(this.spillFile, {force: true});
    const outputs: Manifest['outputs'] = {};
    for (const [name, x] of Object.entries(this.w)) {
      const sha = x.close();
      outputs[`${name}.jsonl`] = {sha256: sha, records: x.records, bytes: x.bytes};
    }
    writeFileSync(path.join(this.tmp, 'profile.json'), profileText);
    outputs['profile.json'] = {sha256: sha256(profileText), records: this.w.train.records, bytes: Buffer.byteLength(profileText)};
    return outputs;
  }

  /** Writes card and manifest, then moves everything into the output folder, the manifest last. */
  publish(manifestText: string, card: string): void {
    writeFileSync(path.join(this.tmp, 'card.md'), card);
    writeFileSync(path.join(this.tmp, 'manifest.json'), manifestText);
    writeMarker(this.tmp);
    // An old manifest goes first so a crash in between never leaves a complete-looking mix of old
    // and new files.
    mkdirSync(this.outDir, {recursive: true});
    const oldManifest = path.join(this.outDir, 'manifest.json');
    if (existsSync(oldManifest)) unlinkSync(oldManifest);
    for (const f of [...OUTPUT_FILES, DATASET_MARKER]) renameSync(path.join(this.tmp, f), path.join(this.outDir, f));
    renameSync(path.join(this.tmp, 'manifest.json'), oldManifest);
    this.remove();
  }

  /** Stops the writers where they are (a failed run). */
  abortWriters(): void {
    for (const x of Object.values(this.w)) x.abort();
  }

  /** Removes the temporary folder (a dry run, a failure, or after publishing). */
  remove(): void {
    rmSync(this.tmp, {recursive: true, force: true});
  }
}
