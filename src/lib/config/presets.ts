/**
 * The trainer's presets (presets.json, read by the Python trainer too), so that an unknown
 * `preset:`, `--preset` or hyper-parameter is refused when the config loads or the run is
 * prepared, before anything is recorded. A project's own trainer/presets.json (copied by
 * `llmops init`, editable) wins over the one shipped with llmops.
 */
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {packagePath} from '../util/package-root.js';

export interface PresetTable {
  /** The presets.json that was read. */
  file: string;
  names: string[];
  /** Hyper-parameters a spec's `overrides` may set (the keys of `base`). */
  keys: string[];
  /** Other spellings of those keys (learning_rate -> lr). */
  aliases: Record<string, string>;
}

const cache = new Map<string, PresetTable>();

/** The presets.json beside the trainer script (`train.script`), else llmops's own. */
export function presetTable(root: string, script = 'trainer/train.py'): PresetTable {
  const own = path.join(path.dirname(path.resolve(root, script)), 'presets.json');
  const file = existsSync(own) ? own : packagePath('templates', 'trainer', 'presets.json');
  let table = cache.get(file);
  if (!table) {
    const data = JSON.parse(readFileSync(file, 'utf8')) as {base: Record<string, unknown>; presets: Record<string, unknown>; aliases?: Record<string, string>};
    table = {file, names: Object.keys(data.presets), keys: Object.keys(data.base), aliases: data.aliases ?? {}};
    cache.set(file, table);
  }
  return table;
}
