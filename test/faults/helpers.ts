/**
 * Fault injection for the fault tests: commands run in a private mount namespace (`unshare -m`),
 * where a folder can be remounted read-only or a tiny tmpfs can fill up, without touching the
 * machine's own mounts. Needs root (or user namespaces); tests skip with the reason otherwise.
 */
import {execFile, execFileSync} from 'node:child_process';
import {BIN} from '../helpers/cli.js';

export const CAN_MOUNT = (() => {
  try {
    execFileSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
})();

export const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** `llmops ARGS` as a shell word list. */
export const llmops = (...args: string[]) => [process.execPath, BIN, ...args].map(q).join(' ');

/** Runs a shell script in a private mount namespace; resolves with its exit code and output. */
export function inMountNs(script: string, opts: {cwd: string; env?: Record<string, string>} ): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile('unshare', ['-m', 'sh', '-c', script], {cwd: opts.cwd, env: {...process.env, NO_COLOR: '1', CI: '1', ...opts.env}, timeout: 120_000, maxBuffer: 16 << 20}, (error, stdout, stderr) => {
      const code = error ? (typeof (error as {code?: unknown}).code === 'number' ? ((error as {code: number}).code) : 1) : 0;
      resolve({code, stdout, stderr});
    });
  });
}

/** Shell lines that remount PATH (a file or folder) read-only inside the namespace. */
export const readOnly = (p: string) => `mount --bind ${q(p)} ${q(p)} && mount -o remount,bind,ro ${q(p)}`;

/** Shell lines that mount a tmpfs of `size` on DIR and fill it up, leaving `leaveKb` free. */
export const tinyDisk = (dir: string, size: string) => `mkdir -p ${q(dir)} && mount -t tmpfs -o size=${size} tmpfs ${q(dir)}`;
export const fillDisk = (dir: string) => `(dd if=/dev/zero of=${q(dir)}/.filler bs=4k 2>/dev/null || true)`;
