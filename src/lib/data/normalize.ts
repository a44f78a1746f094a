/** Stage 2: Unicode NFC, control characters, whitespace, optional HTML stripping. */
import {stripHtml} from './html.js';

export interface NormalizeOptions {
  nfc: boolean;
  strip_control: boolean;
  collapse_whitespace: boolean;
  strip_html: boolean;
}

// C0/C1 controls except tab and newline, plus zero-width and BOM characters that break dedup.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]/g;
const HSPACE = /[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0020-\u007e\n]*$/;

export function normalizeText(s: string, o: NormalizeOptions): string {
  if (o.strip_html) s = stripHtml(s);
  // Pure printable ASCII is already NFC and control-free: skip two full scans on most web text.
  const ascii = ASCII.test(s);
  if (o.nfc && !ascii) s = s.normalize('NFC');
  if (s.includes('\r')) s = s.replace(/\r\n?/g, '\n');
  if (o.strip_control && !ascii) s = s.replace(CONTROL, '');
  if (o.collapse_whitespace) {
    s = s.replace(HSPACE, ' ');
    if (s.includes('\n')) s = s.replace(/ ?\n ?/g, '\n').replace(/\n{3,}/g, '\n\n');
    s = s.trim();
  }
  return s;
}
