/** The monthly budget: what is left this calendar month (UTC), and whether a launch fits in it. */
import {LlmopsError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {formatUsd} from '../util/format.js';
import type {RunEstimate} from './estimate.js';

export function monthStartIso(now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
}

export interface MonthlyBudgetCheck {
  monthlyUsd: number | null;
  spentUsd: number;
  leftUsd: number | null;
  fits: boolean;
}

export function checkMonthlyBudget(ledger: Ledger, monthlyUsd: number | undefined, estimate: RunEstimate, now = new Date()): MonthlyBudgetCheck {
  const spent = ledger.spentSince(monthStartIso(now));
  if (monthlyUsd === undefined) return {monthlyUsd: null, spentUsd: spent, leftUsd: null, fits: true};
  const left = monthlyUsd - spent;
  // Without history there is no estimate: refuse only when the month is already spent on a priced backend.
  const fits = estimate.usd === null ? !(left <= 0 && estimate.pricePerHour > 0) : estimate.usd <= left;
  return {monthlyUsd, spentUsd: spent, leftUsd: left, fits};
}

export function monthlyBudgetError(c: MonthlyBudgetCheck, estimate: RunEstimate): LlmopsError {
  const est = estimate.usd === null ? 'unknown (no history)' : formatUsd(estimate.usd);
  return new LlmopsError(
    'BUDGET_EXCEEDED',
    `This run's estimated cost ${est} exceeds what is left of the monthly budget: ${formatUsd(c.leftUsd)} of ${formatUsd(c.monthlyUsd)} (${formatUsd(c.spentUsd)} spent this month).`,
    {
      fix: 'Try this: --force to launch anyway, a smaller --max-steps, or raise budget.monthly_usd in llmops.yaml.',
      details: {estimateUsd: estimate.usd, leftUsd: c.leftUsd, monthlyUsd: c.monthlyUsd, spentUsd: c.spentUsd},
    },
  );
}
