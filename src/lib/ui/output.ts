/**
 * Terminal output rules shared by every command: results on stdout, progress on stderr, colour
 * only for a human at a TTY (never under --json, NO_COLOR, TERM=dumb or a pipe).
 */
import chalk from 'chalk';

export function colourWanted(opts: {json: boolean; stream?: NodeJS.WriteStream}): boolean {
  if (opts.json) return false;
  if ('NO_COLOR' in process.env && process.env.NO_COLOR !== '') return false;
  if (process.env.TERM === 'dumb') return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return Boolean((opts.stream ?? process.stdout).isTTY);
}

export function configureColour(opts: {json: boolean}): void {
  chalk.level = colourWanted(opts) ? (chalk.level || 1) : 0;
}

/** Whether we may ask the user a question: stdin and stderr are TTYs and we are not in CI. */
export function canPrompt(): boolean {
  if (process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0') return false;
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

// Text formatting (tables, money, sparklines) lives below the UI layer, for the monitor's and
// the runtime's renderers too; commands keep importing it from here.
export {formatUsd, renderTable, sparkline, visibleLength, type Column} from '../util/format.js';
