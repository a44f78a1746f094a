/**
 * Progress lines with an ETA for long suites, at most one every `everyMs` (stderr is for humans).
 */
import {formatDuration} from '../util/time.js';

export function progressReporter(write: (line: string) => void, label: string, unit: string, everyMs = 2000): (done: number, total: number) => void {
  const start = performance.now();
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - last < everyMs) return;
    last = now;
    const elapsed = now - start;
    const eta = done > 0 && done < total ? `, ETA ${formatDuration((elapsed / done) * (total - done))}` : '';
    write(`${label}: ${done}/${total} ${unit} (${Math.floor((100 * done) / Math.max(1, total))}%)${eta}${done === total ? `, ${formatDuration(elapsed)}` : ''}`);
  };
}
