/**
 * Who and where this process is, for run leases: the host name, the kernel's boot id (a reboot
 * makes every old pid meaningless), the pid namespace (a container or `unshare -p` sees other pids)
 * and a process's start time (a recycled pid has another). Linux exposes all of them in /proc;
 * elsewhere they read as "unknown", and liveness then rests on the lease's age alone.
 */
import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import os from 'node:os';

function read(f: string): string {
  try {
    return readFileSync(f, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

let cached: {host: string; bootId: string; pidNs: string} | undefined;

export function hostIdentity(): {host: string; bootId: string; pidNs: string} {
  if (!cached) {
    let pidNs = 'unknown';
    try {
      pidNs = readlinkSync('/proc/self/ns/pid');
    } catch {
      // no /proc
    }
    cached = {host: os.hostname(), bootId: read('/proc/sys/kernel/random/boot_id'), pidNs};
  }
  return cached;
}

/** The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether a process recorded as (pid, start time) on (host, boot, pid namespace) is still running,
 * as far as this process can tell: 'alive', 'gone', or 'unknown' when it lives on another host,
 * boot or pid namespace that we cannot look into.
 */
export function processState(p: {host: string; boot_id: string; pid_ns: string; pid: number; pid_start: string}): 'alive' | 'gone' | 'unknown' {
  const me = hostIdentity();
  if (p.host !== me.host || p.pid_ns !== me.pidNs || me.pidNs === 'unknown') return 'unknown';
  if (p.boot_id !== me.bootId) return 'gone';
  const start = processStartTime(p.pid);
  if (start === undefined) return 'gone';
  if (start !== p.pid_start) return 'gone';
  // A zombie is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return 'gone';
  } catch {
    return 'gone';
  }
  return 'alive';
}

/**
 * Whether any process of group `pgid` still runs (zombies do not count: kill(-pgid, 0) counts them,
 * and where PID 1 reaps nothing a killed run would look alive forever). Reads /proc; undefined
 * where there is none.
 */
export function groupRunning(pgid: number): boolean | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}
