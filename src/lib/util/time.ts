import {usageError} from '../errors.js';

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const nowIso = (): string => new Date().toISOString();

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000};

/** "90s", "15m", "1h", "7d" -> milliseconds. */
export function parseDuration(text: string, flag = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!m) throw usageError(`${flag}: "${text}" is not a duration`, {fix: 'Try this: a number and a unit, such as 30s, 15m, 1h, 7d.'});
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** A --since value: a duration ("24h": that long ago) or an ISO date; returns an ISO timestamp. */
export function parseSince(text: string, now = Date.now()): string {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw usageError(`--since: "${text}" is not a valid date`);
    return new Date(t).toISOString();
  }
  return new Date(now - parseDuration(text, '--since')).toISOString();
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}
