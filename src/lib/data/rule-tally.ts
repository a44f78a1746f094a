/** What each rule removed, per record kind, and the warnings a person should see about it. */
import type {KINDS} from './process.js';

/** One rejection reason of one record kind: how many, the share of that kind's records, where. */
export interface RuleTally {
  kind: (typeof KINDS)[number];
  /** "stage:rule" */
  reason: string;
  records: number;
  share: number;
  examples: Array<{source: string; line: number}>;
}

/** A rule that removes more than this share of a kind's records is reported as a warning. */
export const RULE_WARN_SHARE = 0.05;

/** Warnings for rules that removed more than RULE_WARN_SHARE of a kind's records, with how to turn them off. */
export function ruleWarnings(rules: RuleTally[]): string[] {
  const out: string[] = [];
  for (const t of rules) {
    if (!t.reason.startsWith('quality:') || t.share <= RULE_WARN_SHARE) continue;
    const rule = t.reason.slice('quality:'.length);
    const where = t.examples.map((e) => `${e.source}:${e.line}`).join(', ');
    const off = rule === 'language' ? 'data.quality.language: null' : `data.quality.rules.${rule}: false`;
    out.push(`quality rule ${rule} rejected ${(t.share * 100).toFixed(1)}% of ${t.kind} records (${t.records}; e.g. ${where}). ` +
      `If these records are good, turn it off in llmops.yaml: ${off} (or change its limit).`);
  }
  return out;
}

