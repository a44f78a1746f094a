/**
 * What the backends share: the constructor (a named entry of `backends:` in llmops.yaml, checked
 * to be of the backend's type), pricing from that entry, and reading a run's events and log from a
 * remote run directory over ssh (ssh hosts, Slurm login nodes).
 */
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {priceBackend} from '../../cost/prices.js';
import {usageError} from '../../errors.js';
import type {SshTarget} from '../../system/ssh.js';
import {wholeLines, wholeText} from '../../system/tail.js';
import type {Pricing} from '../backend.js';
import {localizeLine, readRemoteBytes} from '../remote-run.js';

/** At most this much of a remote file per read (bounded batches, as for local files). */
export const REMOTE_READ_BYTES = 4 * 1024 * 1024;

/** A backend made from one `backends:` entry of type T. */
export abstract class ConfiguredBackend<T extends BackendConfig['type']> {
  abstract readonly type: T;
  protected readonly cfg: Extract<BackendConfig, {type: T}>;

  constructor(
    readonly name: string,
    config: BackendConfig,
    protected readonly loaded: LoadedConfig,
    type: T,
  ) {
    if (config.type !== type) throw usageError(`Backend "${name}" is not ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type} backend.`);
    this.cfg = config as Extract<BackendConfig, {type: T}>;
  }

  pricing(): Pricing {
    return priceBackend(this.cfg, this.loaded.config.pricing);
  }
}

/** New whole lines of RUN_DIR/events.jsonl on the remote, with remote paths made local. */
export async function readRemoteEvents(t: SshTarget, remoteRunDir: string, localRunDir: string, offset: number): Promise<{lines: string[]; offset: number}> {
  const buf = await readRemoteBytes(t, path.posix.join(remoteRunDir, 'events.jsonl'), offset, REMOTE_READ_BYTES);
  const got = wholeLines(buf, offset, REMOTE_READ_BYTES);
  return {lines: got.lines.map((l) => localizeLine(l, remoteRunDir, localRunDir)), offset: got.offset};
}

/** New text of a remote log file (never splitting a UTF-8 character). */
export async function readRemoteText(t: SshTarget, file: string, offset: number): Promise<{text: string; offset: number}> {
  return wholeText(await readRemoteBytes(t, file, offset, REMOTE_READ_BYTES), offset);
}
