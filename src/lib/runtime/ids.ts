import {randomBytes} from 'node:crypto';

/** Run ids sort by creation time and read well in a table: r-20261126-153012-a1b2. */
export function newRunId(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `r-${date}-${time}-${randomBytes(2).toString('hex')}`;
}
