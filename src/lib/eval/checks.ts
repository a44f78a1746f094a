/**
 * `eval.checks` of llmops.yaml against the measured values: which metric, which bound, pass or fail.
 */
import type {EvalConfig} from '../config/schema.js';

export interface SuiteValues {
  perplexity?: {value: number; bits_per_byte: number};
  choices?: {acc: number; acc_norm: number};
  generate?: {exact_match: number};
  pairs?: {pct_stereotype: number};
}

export interface CheckResult {
  name: string;
  value: number | null;
  min?: number;
  max?: number;
  status: 'pass' | 'fail' | 'skipped';
  /** Why a check was skipped (its suite did not run, no baseline). */
  reason?: string;
}

/** The value each check name measures; undefined when its suite (or the baseline) is missing. */
export function checkValues(m: SuiteValues, base: SuiteValues | undefined): Record<string, number | undefined> {
  return {
    perplexity: m.perplexity?.value,
    perplexity_ratio: m.perplexity && base?.perplexity ? m.perplexity.value / base.perplexity.value : undefined,
    bits_per_byte: m.perplexity?.bits_per_byte,
    acc: m.choices?.acc,
    acc_norm: m.choices?.acc_norm,
    acc_delta: m.choices && base?.choices ? m.choices.acc - base.choices.acc : undefined,
    exact_match: m.generate?.exact_match,
    exact_match_delta: m.generate && base?.generate ? m.generate.exact_match - base.generate.exact_match : undefined,
    pct_stereotype: m.pairs?.pct_stereotype,
  };
}

export function runChecks(checks: EvalConfig['checks'], m: SuiteValues, base: SuiteValues | undefined): CheckResult[] {
  const values = checkValues(m, base);
  return Object.entries(checks).flatMap(([name, b]): CheckResult[] => {
    if (!b || (b.min === undefined && b.max === undefined)) return [];
    const v = values[name];
    const bounds = {...(b.min === undefined ? {} : {min: b.min}), ...(b.max === undefined ? {} : {max: b.max})};
    if (v === undefined || Number.isNaN(v)) {
      const needsBase = name.endsWith('_ratio') || name.endsWith('_delta');
      return [{name, value: null, ...bounds, status: 'skipped', reason: needsBase && !base ? 'no --baseline' : 'its suite did not run'}];
    }
    const ok = (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max);
    return [{name, value: v, ...bounds, status: ok ? 'pass' : 'fail'}];
  });
}

export function describeCheck(c: CheckResult): string {
  const range = c.min !== undefined && c.max !== undefined ? `within [${c.min}, ${c.max}]` : c.min !== undefined ? `>= ${c.min}` : `<= ${c.max}`;
  return `${c.name} ${c.value === null ? '-' : +c.value.toPrecision(5)} (must be ${range})`;
}
