/**
 * A stage's inputs, as a fingerprint whose parts can be compared one by one: the content hash of
 * every input file, every key of its config section (flattened: finetune.lora.r), and the id of
 * every upstream output. The stage's hash is the hash of all three; when it differs from the last
 * run, the parts say why ("changed: data/x.jsonl", "config finetune.lora.r", "upstream: prep").
 *
 * File hashes are cached by (path, size, mtime) next to the ledger, so an unchanged project is not
 * read again on every `pipeline run`.
 */
import {createHash} from 'node:crypto';
import {createReadStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';

export interface Fingerprint {
  kind: string;
  /** Project-relative path -> sha256 (hf:// URLs -> the URL itself: the download is pinned by the prep manifest). */
  files: Record<string, string>;
  /** Flattened config keys of the stage -> value. */
  config: Record<string, unknown>;
  /** Upstream stage -> the id of its output. */
  upstream: Record<string, string>;
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    return '{' + Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => JSON.stringify(k) + ':' + canonicalJson((v as Record<string, unknown>)[k])).join(',') + '}';
  }
  return JSON.stringify(v ?? null);
}

export function fingerprintHash(f: Fingerprint): string {
  return createHash('sha256').update(canonicalJson(f)).digest('hex');
}

/** {a: {b: 1}, c: [1]} -> {"prefix.a.b": 1, "prefix.c": [1]} (arrays are values). */
export function flatten(obj: unknown, prefix: string, out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (obj !== undefined) {
    out[prefix] = obj;
  }
  return out;
}

/** Why `now` differs from `before`: one short phrase per changed part, files first. */
export function describeChanges(before: Fingerprint, now: Fingerprint): string[] {
  const out: string[] = [];
  const keys = (a: Record<string, unknown>, b: Record<string, unknown>) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const f of keys(before.files, now.files)) {
    if (!(f in before.files)) out.push(`added: ${f}`);
    else if (!(f in now.files)) out.push(`removed: ${f}`);
    else if (before.files[f] !== now.files[f]) out.push(`changed: ${f}`);
  }
  for (const k of keys(before.config, now.config)) {
    if (canonicalJson(before.config[k]) !== canonicalJson(now.config[k])) out.push(`config ${k}`);
  }
  for (const u of keys(before.upstream, now.upstream)) {
    if (before.upstream[u] !== now.upstream[u]) out.push(`upstream: ${u}`);
  }
  if (out.length === 0 && before.kind !== now.kind) out.push(`kind ${before.kind} -> ${now.kind}`);
  return out;
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Content hashes of files, reusing a hash while a file's size and mtime are unchanged. */
export class FileHasher {
  private cache: Record<string, CacheEntry> = {};
  private dirty = false;

  constructor(private readonly cacheFile: string | null) {
    if (cacheFile && existsSync(cacheFile)) {
      try {
        this.cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, CacheEntry>;
      } catch {
        this.cache = {};
      }
    }
  }

  async hash(file: string): Promise<string> {
    const st = statSync(file);
    const hit = this.cache[file];
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
    const sha256 = await new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(file)
        .on('data', (c) => h.update(c))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    });
    this.cache[file] = {size: st.size, mtimeMs: st.mtimeMs, sha256};
    this.dirty = true;
    return sha256;
  }

  save(): void {
    if (!this.cacheFile || !this.dirty) return;
    mkdirSync(path.dirname(this.cacheFile), {recursive: true});
    const tmp = `${this.cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.cache));
    renameSync(tmp, this.cacheFile);
    this.dirty = false;
  }
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Hashes what a list of files, globs and folders names (relative to root), as project-relative
 * paths. A path that matches nothing is recorded as missing rather than failing here: the stage
 * itself reports it when it runs.
 */
export async function hashPaths(root: string, patterns: string[], hasher: FileHasher, opts: {exclude?: (rel: string) => boolean} = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const {glob} = await import('tinyglobby');
  for (const pat of patterns) {
    if (/^hf:\/\//.test(pat)) {
      out[pat] = pat;
      continue;
    }
    const abs = path.resolve(root, pat);
    let files: string[];
    if (!GLOB_CHARS.test(pat) && existsSync(abs) && statSync(abs).isDirectory()) {
      files = await glob('**/*', {cwd: abs, absolute: true, onlyFiles: true, dot: false});
    } else if (GLOB_CHARS.test(pat)) {
      files = await glob(pat, {cwd: root, absolute: true, onlyFiles: true, dot: false});
    } else {
      files = existsSync(abs) ? [abs] : [];
      if (files.length === 0) out[path.relative(root, abs) || pat] = 'missing';
    }
    for (const f of files.sort()) {
      const rel = path.relative(root, f);
      if (opts.exclude?.(rel)) continue;
      out[rel] = await hasher.hash(f);
    }
  }
  return out;
}
