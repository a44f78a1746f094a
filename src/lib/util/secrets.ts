/**
 * What a secret looks like, in one place: data prep's PII stage (util/pii.ts), the drift profile of
 * served prompts (monitor/profile.ts) and `config show` (config/mask.ts) all use these patterns.
 */

export const SECRET_PATTERNS = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/,
  /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/,
  /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/,
  /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b/,
  /\bhf_[A-Za-z0-9]{30,}\b/,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/,
];

/** Shannon entropy in bits per character: random keys score above 4, words and one-case hashes lower. */
export function entropyBits(s: string): number {
  const freq = new Map<string, number>();
  for (const c of s) freq.set(c, (freq.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of freq.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/**
 * An AWS secret access key: 40 characters of [A-Za-z0-9/+] with both cases and a digit, random
 * enough (a 40-hex git hash has one case and at most 4 bits a character; words repeat letters).
 */
export function awsSecretLike(m: string): boolean {
  return m.length === 40 && /[a-z]/.test(m) && /[A-Z]/.test(m) && /\d/.test(m) && entropyBits(m) >= 4.2;
}

export const AWS_SECRET_RE = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;

/**
 * A value given by name: password=…, "password": "…", passwd: …, pwd=…, aws_secret_access_key = …,
 * client_secret: …, api_key=…, auth_token: …. Group 1 is the name and separator, group 2 the value.
 */
export const PASSWORD_RE =
  /(\b(?:[A-Za-z_]*pass(?:word|wd|phrase)?|pwd|[A-Za-z_]*secret(?:_access)?(?:_key)?|api[_-]?key|access[_-]?token|auth[_-]?token)\b["']?\s*[:=]\s*)("[^"\n]{1,200}"|'[^'\n]{1,200}'|[^\s"'`,;<>]{3,})/gi;

const ANY_SECRET = new RegExp(SECRET_PATTERNS.map((r) => r.source).join('|'), 'g');
// scheme://user:password@host: the password goes, the user and host stay.
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi;
// ssh -o SetEnv=NAME=value (or "SetEnv NAME=value"): environment handed to the remote side.
const SSH_SETENV = /(\bSetEnv[\s=]+[A-Za-z_][A-Za-z0-9_]*=)("[^"]*"|'[^']*'|\S+)/gi;

/** `text` with every embedded credential replaced by `mask`: URL passwords, SetEnv values, keys, named passwords. */
export function maskEmbedded(text: string, mask = '********'): string {
  return text
    .replace(URL_CREDENTIALS, (_m, head: string, _pw: string, at: string) => `${head}${mask}${at}`)
    .replace(SSH_SETENV, (_m, head: string) => `${head}${mask}`)
    .replace(PASSWORD_RE, (m, head: string, value: string) => (value.startsWith('<') || value === mask ? m : `${head}${mask}`))
    .replace(ANY_SECRET, mask)
    .replace(AWS_SECRET_RE, (m) => (awsSecretLike(m) ? mask : m));
}
