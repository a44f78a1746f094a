/**
 * Stage 4: personal data and secrets. Each detector is a regular expression plus, where the format
 * has one, a checksum or range check (Luhn for cards, mod-97 for IBAN, octets for IPv4, node:net
 * for IPv6) so that order numbers and version strings are not redacted.
 *
 * Found values never leave this module: callers get the redacted text and counts per type.
 */
import {isIPv6} from 'node:net';
import {awsSecretLike, PASSWORD_RE, SECRET_PATTERNS} from './secrets.js';

export {entropyBits} from './secrets.js';

export type PiiType = 'email' | 'phone' | 'ip' | 'credit_card' | 'ssn' | 'iban' | 'secret';
export const PII_TYPES: readonly PiiType[] = ['secret', 'email', 'iban', 'credit_card', 'ssn', 'phone', 'ip'];
export const PLACEHOLDER: Record<PiiType, string> = {
  email: '<EMAIL>',
  phone: '<PHONE>',
  ip: '<IP_ADDRESS>',
  credit_card: '<CREDIT_CARD>',
  ssn: '<SSN>',
  iban: '<IBAN>',
  secret: '<SECRET>',
};

export type PiiCounts = Partial<Record<PiiType, number>>;

// Characters a detector's match cannot do without (one pass over the text sets these bits).
const DIGIT = 1;
const AT = 2;
const DOT = 4;
const COLON = 8;
const SECRET_HINT = 16;

interface Detector {
  type: PiiType;
  /** Bits of the characters every match contains: the regex is skipped when one is missing. */
  need: number;
  re: RegExp;
  /** Cheap precondition on the whole text, to skip the regex on most documents. */
  pre?: (s: string) => boolean;
  valid?: (m: string) => boolean;
  /** Redacts part of the match only (a password's value, not the word "password"). */
  keep?: (m: string, ...groups: string[]) => string;
}


function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

function validCard(m: string): boolean {
  const d = m.replace(/[ -]/g, '');
  if (d.length < 13 || d.length > 19) return false;
  // Known issuer prefixes: Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay.
  if (!/^(4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2))/.test(d)) return false;
  return luhn(d);
}

function validIban(m: string): boolean {
  const s = m.replace(/ /g, '');
  if (s.length < 15 || s.length > 34) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const c = ch.charCodeAt(0);
    const v = c >= 65 ? String(c - 55) : ch;
    for (const digit of v) rem = (rem * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

function validIpv4(m: string): boolean {
  return m.split('.').every((o) => o.length <= 3 && Number(o) <= 255 && !(o.length > 1 && o[0] === '0'));
}

function validPhone(m: string): boolean {
  const n = m.replace(/\D/g, '').length;
  return n >= 10 && n <= 15;
}

const hasDigit = (s: string) => /\d/.test(s);


const DETECTORS: Detector[] = [
  {type: 'secret', need: SECRET_HINT, re: new RegExp(SECRET_PATTERNS.map((r) => r.source).join('|'), 'g'),
    pre: (s) => /KEY-----|AKIA|ASIA|gh[pousr]_|github_pat_|sk-|hf_|xox|eyJ/.test(s)},
  {type: 'secret', need: SECRET_HINT, re: PASSWORD_RE, pre: (s) => /pass|pwd|secret|api.?key|token/i.test(s) && /[:=]/.test(s),
    valid: (m) => !/[:=]\s*["']?<[A-Z_]+>/.test(m), keep: (_m, key, value) => {
      const q = value[0] === '"' || value[0] === "'" ? value[0] : '';
      return `${key}${q}${PLACEHOLDER.secret}${q}`;
    }},
  {type: 'secret', need: SECRET_HINT, re: /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g, valid: awsSecretLike},
  {type: 'email', need: AT, re: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b/g, pre: (s) => s.includes('@')},
  {type: 'iban', need: DIGIT, re: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, valid: validIban, pre: (s) => /[A-Z]{2}\d\d/.test(s)},
  {type: 'credit_card', need: DIGIT, re: /\b\d(?:[ -]?\d){12,18}\b/g, valid: validCard, pre: hasDigit},
  {type: 'ssn', need: DIGIT, re: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g, pre: hasDigit},
  {type: 'phone', need: DIGIT,
    re: /(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|(?<!\d)(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4})(?!\d)/g,
    valid: validPhone, pre: hasDigit},
  {type: 'ip', need: DIGIT | DOT, re: /\b(?:\d{1,3}\.){3}\d{1,3}\b/g, valid: validIpv4, pre: (s) => s.includes('.')},
  {type: 'ip', need: COLON, re: /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g,
    valid: (m) => m.length > 2 && /[0-9A-Fa-f]/.test(m) && isIPv6(m), pre: (s) => /[0-9A-Fa-f]:[0-9A-Fa-f]|::/.test(s)},
];

export interface PiiResult {
  text: string;
  counts: PiiCounts;
  found: number;
}

/**
 * Whether the text has a marker every secret pattern starts from: "AKIA"/"ASIA"/"eyJ", or a "-"
 * after "sk", "KEY" or "xox?", or a "_" after "gh?", "github" or "hf". Cheaper than the
 * alternation regex because it only looks around the (few) dashes and underscores.
 */
export function secretHint(s: string): boolean {
  if (s.includes('AKIA') || s.includes('ASIA') || s.includes('eyJ')) return true;
  // Passwords and keys given by name ("password=", "aws_secret_access_key:"), 40-character AWS secrets.
  if ((s.includes('=') || s.includes(':')) && /pass|pwd|secret|api.?key|token/i.test(s)) return true;
  if (s.length >= 40 && /[A-Za-z0-9/+]{40}/.test(s)) return true;
  for (let i = s.indexOf('-'); i !== -1; i = s.indexOf('-', i + 1)) {
    if ((i >= 2 && s.startsWith('sk', i - 2)) || (i >= 3 && s.startsWith('KEY', i - 3)) || (i >= 4 && s.startsWith('xox', i - 4))) return true;
  }
  for (let i = s.indexOf('_'); i !== -1; i = s.indexOf('_', i + 1)) {
    if ((i >= 3 && s.startsWith('gh', i - 3)) || (i >= 6 && s.startsWith('github', i - 6)) || (i >= 2 && s.startsWith('hf', i - 2))) return true;
  }
  return false;
}

/**
 * One pass for the characters detectors need. Redaction only inserts placeholders made of
 * "<", ">", capitals and "_", inserted after the secret detector has run, so bits computed on the
 * original text stay valid while earlier detectors rewrite it.
 */
function charBits(s: string, secrets: boolean): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 58) bits |= c === 58 ? COLON : DIGIT;
    else if (c === 64) bits |= AT;
    else if (c === 46) bits |= DOT;
  }
  if (secrets && secretHint(s)) bits |= SECRET_HINT;
  return bits;
}

/** Finds (and, when `redact`, replaces) every enabled type. Counts are per occurrence. */
export function scanPii(text: string, types: ReadonlySet<PiiType>, redact: boolean): PiiResult {
  const counts: PiiCounts = {};
  let found = 0;
  const bits = charBits(text, types.has('secret'));
  for (const d of DETECTORS) {
    if (!types.has(d.type)) continue;
    if ((bits & d.need) !== d.need) continue;
    if (d.pre && !d.pre(text)) continue;
    d.re.lastIndex = 0;
    const replaced = text.replace(d.re, (m: string, ...groups: unknown[]) => {
      if (d.valid && !d.valid(m)) return m;
      counts[d.type] = (counts[d.type] ?? 0) + 1;
      found++;
      if (!redact) return m;
      return d.keep ? d.keep(m, ...(groups.filter((g) => typeof g === 'string' || g === undefined).map((g) => (g as string | undefined) ?? ''))) : PLACEHOLDER[d.type];
    });
    if (redact) text = replaced;
  }
  return {text, counts, found};
}
