/**
 * Model references of the registry: NAME@ALIAS (chat@prod), NAME@vN (chat@v3), NAME@latest.
 * Anything else (a run id, a folder, hf:OWNER/NAME) is not a registry reference.
 */
export interface ModelRef {
  name: string;
  /** A version number (NAME@vN), or an alias name (NAME@prod; `latest` is the newest version). */
  version?: number;
  alias?: string;
}

const NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

export function isValidName(s: string): boolean {
  return NAME.test(s);
}

export function isValidAlias(s: string): boolean {
  return NAME.test(s) && !/^v\d+$/.test(s) && s !== 'latest';
}

/** NAME@SELECTOR, or null when `ref` is not shaped like a registry reference. */
export function parseModelRef(ref: string): ModelRef | null {
  if (ref.startsWith('hf:') || ref.includes('/') || ref.includes('\\')) return null;
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1) return null;
  const name = ref.slice(0, at);
  const sel = ref.slice(at + 1);
  if (!NAME.test(name) || !NAME.test(sel)) return null;
  const v = /^v(\d+)$/.exec(sel);
  return v ? {name, version: Number(v[1])} : {name, alias: sel};
}

export function formatRef(r: ModelRef): string {
  return r.version === undefined ? `${r.name}@${r.alias}` : `${r.name}@v${r.version}`;
}
