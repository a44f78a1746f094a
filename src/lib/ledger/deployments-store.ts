/**
 * Deployments and the requests their servers record: the SQL of that table family, including the
 * window scans the monitor reads. Every requests query is bounded by the index
 * requests(deployment_id, ts), so its cost grows with the traffic in the window, not with the size
 * of the ledger.
 */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';
import {likePrefix} from './runs-store.js';
import type {DeploymentRow, RequestRow} from './types.js';

export type DeploymentFields = Partial<Pick<DeploymentRow, 'status' | 'pid' | 'port' | 'url' | 'started_at' | 'stopped_at'>>;

/** A half-open time range of requests, epoch ms: since <= ts < until. */
export interface RequestRange {
  sinceMs: number;
  untilMs: number;
}

export interface RequestTotals {
  requests: number;
  ok: number;
  error: number;
  cancelled: number;
  /** Refused with a 4xx: the request was wrong (bad JSON, unknown model, too long) or came while the queue was full (429). */
  client_error: number;
  /** Failed on the server's side: 5xx (generation failed, timeout, shutting down), or any other failure that is not a 4xx. */
  server_error: number;
  /** The connection closed before the answer ended (499): a stream without its final event, a client that stopped waiting. */
  cut_off: number;
  tokens_in: number;
  tokens_out: number;
  first_ts: number | null;
  last_ts: number | null;
}

export interface RequestScan {
  totals: RequestTotals;
  /** Latency columns of the successful requests (a fast 400 is not a fast answer). */
  e2e: Float64Array;
  ttft: Float64Array;
  itl: Float64Array;
}

export interface RequestBucketRow {
  /** Bucket index from the start of the range. */
  b: number;
  requests: number;
  /** Server errors and cut-off requests (what error_rate counts). */
  errors: number;
  /** 4xx answers. */
  client_errors: number;
  tokens_out: number;
  e2e_avg_ms: number | null;
  ttft_avg_ms: number | null;
  ttft_max_ms: number | null;
}

const RANGE = 'deployment_id = @dep AND ts >= @since AND ts < @until';

/*
 * How a request that did not succeed is classed; every such request is exactly one of three. The
 * server records a 4xx as status 'error', a client that went away as 'cancelled' with 499, and a
 * failure on its side (even one that cut a stream off after its 200 header) with the 5xx it sent,
 * so: client errors are the 'error' rows with a 4xx, cut-off the 'cancelled' rows below 500, server
 * errors every other failure. Written as FILTERed sums over http_status alone: CASE-style
 * expressions over both columns made the scan of 1M rows 1.9x slower, these add about 10% (bench/monitor-classes.bench.mjs).
 */
const CLIENT_ERRORS = "coalesce(sum(http_status >= 400 AND http_status < 500) FILTER (WHERE status = 'error'), 0)";
const CUT_OFF = "coalesce(sum(http_status < 500) FILTER (WHERE status = 'cancelled'), 0)";
const rangeParams = (depId: string, r: RequestRange) => ({dep: depId, since: r.sinceMs, until: r.untilMs});

/** A growable Float64Array: no boxed numbers, no array of rows, for up to millions of values. */
class Column {
  private a = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  values(): Float64Array {
    return this.a.subarray(0, this.n);
  }
}

interface Collected {
  e2e: Column;
  ttft: Column;
  itl: Column;
}

export class DeploymentsStore {
  /** What the last monitor_collect() call gathered (queries run synchronously on this thread). */
  private collected: Collected | undefined;
  private scanReady = false;

  constructor(private readonly db: Database) {}

  // ---- deployments --------------------------------------------------------------------------

  insert(d: Omit<DeploymentRow, 'created_at' | 'started_at' | 'stopped_at'> & {started_at?: string | null}): void {
    this.db
      .prepare(
        `INSERT INTO deployments (id, name, status, model_run_id, model_dir, target, host, port, url, pid, log_path,
           price_per_hour, created_at, started_at, config_json)
         VALUES (@id, @name, @status, @model_run_id, @model_dir, @target, @host, @port, @url, @pid, @log_path,
           @price_per_hour, @created_at, @started_at, @config_json)`,
      )
      .run({...d, created_at: nowIso(), started_at: d.started_at ?? null});
  }

  update(id: string, fields: DeploymentFields): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE deployments SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @__id`).run({...fields, __id: id});
  }

  /** By id, or the newest deployment with that name. */
  find(idOrName: string): DeploymentRow | undefined {
    return (this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(idOrName) ??
      this.db.prepare('SELECT * FROM deployments WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(idOrName)) as
      | DeploymentRow
      | undefined;
  }

  /** The one deployment whose id starts with `prefix` (at least 4 characters), if exactly one does. */
  findByPrefix(prefix: string): DeploymentRow | undefined {
    if (prefix.length < 4) return undefined;
    const rows = this.db.prepare("SELECT * FROM deployments WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(likePrefix(prefix)) as DeploymentRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  list(): DeploymentRow[] {
    return this.db.prepare('SELECT * FROM deployments ORDER BY created_at DESC').all() as DeploymentRow[];
  }

  /** Deployments serving this run's model, oldest first. */
  servingRun(runId: string): DeploymentRow[] {
    return this.db.prepare('SELECT * FROM deployments WHERE model_run_id = ? ORDER BY created_at').all(runId) as DeploymentRow[];
  }

  // ---- requests (written by the server in batches) -------------------------------------------

  insertRequests(rows: readonly RequestRow[]): void {
    if (rows.length === 0) return;
    const stmt = this.db.prepare(
      `INSERT INTO requests (deployment_id, model_run_id, ts, endpoint, stream, status, http_status, finish_reason,
         prompt_tokens, completion_tokens, queue_ms, ttft_ms, e2e_ms, itl_ms, prompt_chars, error, profile_json,
         prompt_text, completion_text)
       VALUES (@deployment_id, @model_run_id, @ts, @endpoint, @stream, @status, @http_status, @finish_reason,
         @prompt_tokens, @completion_tokens, @queue_ms, @ttft_ms, @e2e_ms, @itl_ms, @prompt_chars, @error, @profile_json,
         @prompt_text, @completion_text)`,
    );
    const tx = this.db.transaction((rs: readonly RequestRow[]) => {
      for (const r of rs) stmt.run(r);
    });
    tx.immediate(rows);
  }

  listRequests(deploymentId: string, limit = 1000): Array<RequestRow & {id: number}> {
    return this.db.prepare('SELECT * FROM requests WHERE deployment_id = ? ORDER BY id LIMIT ?').all(deploymentId, limit) as Array<RequestRow & {id: number}>;
  }

  /** Number of recorded requests per deployment id. */
  requestCounts(): Record<string, number> {
    const rows = this.db.prepare('SELECT deployment_id, count(*) AS n FROM requests GROUP BY deployment_id').all() as Array<{deployment_id: string; n: number}>;
    return Object.fromEntries(rows.map((r) => [r.deployment_id, r.n]));
  }

  /** Totals and the latency columns of the successful requests in a range, in one scan. */
  scanRequests(depId: string, range: RequestRange): RequestScan {
    this.prepareScan();
    this.collected = undefined;
    const row = this.db
      .prepare(
        `SELECT count(*) AS requests,
           coalesce(sum(status = 'ok'), 0) AS ok,
           coalesce(sum(status = 'error'), 0) AS error,
           coalesce(sum(status = 'cancelled'), 0) AS cancelled,
           ${CLIENT_ERRORS} AS client_error,
           ${CUT_OFF} AS cut_off,
           coalesce(sum(prompt_tokens), 0) AS tokens_in,
           coalesce(sum(completion_tokens), 0) AS tokens_out,
           min(ts) AS first_ts, max(ts) AS last_ts,
           monitor_collect(e2e_ms, ttft_ms, itl_ms) FILTER (WHERE status = 'ok') AS collected
         FROM requests WHERE ${RANGE}`,
      )
      .get(rangeParams(depId, range)) as Omit<RequestTotals, 'server_error'> & {collected: number | null};
    // Set by the aggregate's result() during .get() above (TypeScript cannot see that).
    const c = this.collected as Collected | undefined;
    this.collected = undefined;
    const {collected: _n, ...counts} = row;
    const totals: RequestTotals = {...counts, server_error: counts.error + counts.cancelled - counts.client_error - counts.cut_off};
    const empty = new Float64Array(0);
    return {totals, e2e: c?.e2e.values() ?? empty, ttft: c?.ttft.values() ?? empty, itl: c?.itl.values() ?? empty};
  }

  /** Client errors (4xx) of a range per HTTP status, most frequent first: a 429 (queue full) reads differently from a 400. */
  clientErrorCodes(depId: string, range: RequestRange): Array<{http_status: number; n: number}> {
    return this.db
      .prepare(`SELECT http_status, count(*) AS n FROM requests WHERE ${RANGE} AND status = 'error' AND http_status >= 400 AND http_status < 500
         GROUP BY http_status ORDER BY n DESC, http_status`)
      .all(rangeParams(depId, range)) as Array<{http_status: number; n: number}>;
  }

  /** The newest request profiles of a range, as the server wrote them (JSON text), newest first. */
  recentProfileJson(depId: string, range: RequestRange, limit: number): string[] {
    return this.db
      .prepare(`SELECT profile_json FROM requests WHERE ${RANGE} AND profile_json IS NOT NULL ORDER BY ts DESC LIMIT @limit`)
      .pluck()
      .all({...rangeParams(depId, range), limit}) as string[];
  }

  /** Requests, errors, tokens and latencies per bucket of `sizeMs` from the range's start (only buckets with traffic). */
  requestBuckets(depId: string, range: RequestRange, sizeMs: number): RequestBucketRow[] {
    return this.db
      .prepare(
        `SELECT CAST((ts - @since) / @size AS INTEGER) AS b, count(*) AS requests,
           coalesce(sum(status != 'ok'), 0) - ${CLIENT_ERRORS} AS errors, ${CLIENT_ERRORS} AS client_errors,
           coalesce(sum(completion_tokens), 0) AS tokens_out,
           avg(CASE WHEN status = 'ok' THEN e2e_ms END) AS e2e_avg_ms,
           avg(CASE WHEN status = 'ok' THEN ttft_ms END) AS ttft_avg_ms,
           max(CASE WHEN status = 'ok' THEN ttft_ms END) AS ttft_max_ms
         FROM requests WHERE ${RANGE} GROUP BY b ORDER BY b`,
      )
      .all({...rangeParams(depId, range), size: sizeMs}) as RequestBucketRow[];
  }

  /**
   * Registers `monitor_collect(e2e, ttft, itl)`, an aggregate that copies the three latency columns
   * into typed arrays during the same scan that sums the totals. One pass over the window instead of
   * four (totals + one per column): 1.2 s instead of 5.5 s for 1M rows in the window on the loaded
   * 2-core bench machine (see docs/benchmarks.md). SQLite's own percentile_cont() took 5 s.
   */
  private prepareScan(): void {
    if (this.scanReady) return;
    this.scanReady = true;
    this.db.aggregate('monitor_collect', {
      start: () => ({e2e: new Column(), ttft: new Column(), itl: new Column()}),
      // @types/better-sqlite3 types step() with one argument; SQLite passes one per SQL argument.
      step: ((s: Collected, e2e: number | null, ttft: number | null, itl: number | null) => {
        if (e2e !== null) s.e2e.push(e2e);
        if (ttft !== null) s.ttft.push(ttft);
        if (itl !== null) s.itl.push(itl);
        return s;
      }) as unknown as (s: Collected, next: Collected) => Collected,
      result: (s: Collected) => {
        // Queries run synchronously on this thread: scanRequests reads this right after .get().
        this.collected = s;
        return s.e2e.n;
      },
    });
    // Reads only: mapping the file spares a copy per page on large windows (0.83 s -> 0.47 s per scan of 1M rows).
    this.db.pragma('mmap_size = 1073741824');
  }
}
