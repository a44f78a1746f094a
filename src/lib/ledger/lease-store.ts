/**
 * Run leases (migration "run leases"): the one supervisor of a run renews a row here every second.
 * Taking a run over is a compare-and-swap in one IMMEDIATE transaction: the row is replaced only
 * when it is absent, ours, or stale past the timeout and its holder is confirmed gone by the caller
 * (who can look at processes: the ledger cannot). Concurrent `runs list` calls therefore start at
 * most one new supervisor.
 */
import type {Database} from './db.js';

export interface LeaseHolder {
  owner: string;
  host: string;
  boot_id: string;
  pid_ns: string;
  pid: number;
  pid_start: string;
}

export interface LeaseRow extends LeaseHolder {
  run_id: string;
  heartbeat_at: number;
}

export class LeaseStore {
  constructor(private readonly db: Database) {}

  get(runId: string): LeaseRow | undefined {
    return this.db.prepare('SELECT * FROM run_leases WHERE run_id = ?').get(runId) as LeaseRow | undefined;
  }

  /**
   * Takes the lease for `me` when it is free, already mine, or `holderGone(row)` says its holder is
   * gone (the caller's rule: its host says so, or it is stale past the timeout where nobody can
   * look). Returns whether `me` now holds it.
   */
  acquire(runId: string, me: LeaseHolder, opts: {now: number; holderGone: (row: LeaseRow) => boolean}): boolean {
    const tx = this.db.transaction((): boolean => {
      const row = this.get(runId);
      // Stale, or its holder confirmed gone by the caller (its host says so): either frees it.
      if (row && row.owner !== me.owner && !opts.holderGone(row)) return false;
      this.db
        .prepare(
          `INSERT INTO run_leases (run_id, owner, host, boot_id, pid_ns, pid, pid_start, heartbeat_at)
           VALUES (@run_id, @owner, @host, @boot_id, @pid_ns, @pid, @pid_start, @heartbeat_at)
           ON CONFLICT(run_id) DO UPDATE SET owner = excluded.owner, host = excluded.host, boot_id = excluded.boot_id,
             pid_ns = excluded.pid_ns, pid = excluded.pid, pid_start = excluded.pid_start, heartbeat_at = excluded.heartbeat_at`,
        )
        .run({run_id: runId, ...me, heartbeat_at: opts.now});
      return true;
    });
    return tx.immediate();
  }

  /** Renews my lease; false when someone else holds it now (then I must stop supervising). */
  renew(runId: string, me: LeaseHolder, now: number): boolean {
    const r = this.db
      .prepare('UPDATE run_leases SET heartbeat_at = ?, pid = ?, pid_start = ?, host = ?, boot_id = ?, pid_ns = ? WHERE run_id = ? AND owner = ?')
      .run(now, me.pid, me.pid_start, me.host, me.boot_id, me.pid_ns, runId, me.owner);
    return r.changes === 1;
  }

  release(runId: string, owner: string): void {
    this.db.prepare('DELETE FROM run_leases WHERE run_id = ? AND owner = ?').run(runId, owner);
  }
}
