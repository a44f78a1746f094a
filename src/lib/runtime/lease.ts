/**
 * Run leases from the runtime's side: who this process is, the stated timeout, and whether a lease
 * holder is gone. The rows live in the ledger (ledger/lease-store.ts); see docs/runs.md "Leases".
 */
import {randomUUID} from 'node:crypto';
import type {LeaseHolder, LeaseRow} from '../ledger/lease-store.js';
import {hostIdentity, processStartTime, processState} from '../system/host.js';

/** A lease not renewed for this long (and whose holder we cannot see alive) may be taken over. */
export function leaseTimeoutMs(): number {
  const s = Number(process.env.LLMOPS_LEASE_TIMEOUT_S ?? 15);
  return (Number.isFinite(s) && s > 0 ? s : 15) * 1000;
}

/** How often a supervisor renews its lease. */
export const LEASE_RENEW_MS = 1000;

export function leaseHolder(owner: string = randomUUID(), pid = process.pid): LeaseHolder {
  const me = hostIdentity();
  return {owner, host: me.host, boot_id: me.bootId, pid_ns: me.pidNs, pid, pid_start: processStartTime(pid) ?? 'unknown'};
}

/**
 * Whether the lease's holder is gone: its host (this one, same boot and pid namespace) says the
 * process no longer runs; or, where we cannot look (another host or namespace), the lease is stale
 * past the timeout.
 */
export function holderGone(row: LeaseRow, now = Date.now()): boolean {
  const st = processState(row);
  if (st === 'gone') return true;
  if (st === 'alive') return false;
  return now - row.heartbeat_at >= leaseTimeoutMs();
}
