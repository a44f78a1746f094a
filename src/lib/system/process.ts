/**
 * Process liveness and signalling for local runs. A run's process leads its own process group, so
 * signalling -pgid reaches the trainer's children (data workers, torchrun ranks) as well.
 */
import {readFileSync} from 'node:fs';

/** True while a process with this pid exists (zombies included, as kill(0) sees them). */
export function isAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie is dead for our purposes: its exit status waits for a parent that may be gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc (macOS): kill(0) is all we have
  }
  return true;
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number | null | undefined): boolean {
  if (!pgid || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process, or undefined where /proc is unavailable (pid reuse checks). */
export function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the process we started: alive and, where /proc tells us, running a
 * command line that mentions `marker` (a recycled pid runs something else).
 */
export function isOurProcess(pid: number | null | undefined, marker: string): boolean {
  if (!isAlive(pid)) return false;
  const cl = cmdline(pid!);
  return cl === undefined || cl.includes(marker);
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Sends a signal to one process; false when it is already gone (or not ours to signal). */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
