import {maskEmbedded} from '../util/secrets.js';

/**
 * Masks values that look like secrets before a config is shown or stored. The config itself should
 * hold only the *names* of environment variables (api_key_env), but users paste tokens anyway.
 */
const SECRET_KEY = /(?:^|[_-])(?:token|secret|password|passwd|pass|api[_-]?key|private[_-]?key|credentials?|webhook)(?:$|[_-])/i;
const SECRET_VALUE = /^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})$/;

export function maskSecrets<T>(value: T, key = ''): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)])) as T;
  }
  if (typeof value === 'string') {
    // `api_key_env: MY_VAR` names a variable: not a secret itself.
    if (SECRET_KEY.test(key) && !/_env$/i.test(key) && value.length > 0) return '********' as T;
    if (SECRET_VALUE.test(value)) return '********' as T;
    // Credentials inside a longer value: user:password@host, SetEnv=…, a key in free text.
    return maskEmbedded(value) as T;
  }
  return value;
}

/** True when the config holds a value maskSecrets would hide (then it is never cached on disk). */
export function hasSecrets(value: unknown): boolean {
  return JSON.stringify(maskSecrets(value)) !== JSON.stringify(value);
}
