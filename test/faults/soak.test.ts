/**
 * Issue 15, the soak test: 20 detached runs (the real CLI, the real trainer on a micro model) while a
 * helper randomly `kill -9`s supervisors and trainers, asks some runs to stop, and runs several
 * `runs list` at once. At the end every run is in a true final state (succeeded, failed with a
 * reason, or stopped), no run was ever `lost` while its process lived, no run ever had two
 * supervisors, and the ledger bills each run its measured duration at its backend's price, within a
 * second per run.
 *
 * Sized for CI's 2 cores: at most 5 runs go at once (20 at once would have torch start-ups fight for
 * the CPUs for the whole test and push it far past its 90-second aim), launched as earlier ones end.
 * The faults are drawn from a seeded RNG; the seed is printed, and LLMOPS_SOAK_SEED=N replays it.
 */
import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {FINAL_STATUSES} from '../../src/lib/ledger/ledger.js';
import {prng} from '../../src/lib/util/prng.js';
import {runCli} from '../helpers/cli.js';
import {makeProject, withLedger} from '../runtime/helpers.js';

const RUNS = 20;
const AT_ONCE = 5;
// Two backends at different prices, so "at their prices" is checked, not assumed: $1/s and $0.50/s.
const PRICES = {local: 3600, cheap: 1800} as const;
const YAML = `backends:\n  local: {type: local, price_per_hour: ${PRICES.local}, price_source: test price}\n  cheap: {type: local, price_per_hour: ${PRICES.cheap}, price_source: test price}\n`;

interface Proc {
  pid: number;
  pgrp: number;
  state: string;
  args: string[];
  cwd: string;
}

/** Every live (not zombie) process, from /proc. */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${d}/cwd`);
      } catch {
        // not ours to read
      }
      out.push({pid: Number(d), pgrp: Number(rest[2]), state: rest[0]!, args, cwd});
    } catch {
      // gone while we looked
    }
  }
  return out;
}

const isSupervisorOf = (p: Proc, id: string) => p.args.some((a) => a.endsWith('supervisor-main.js')) && p.args.includes(id);

function kill9(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

let projectDir: string | undefined;
afterAll(() => {
  // Leave nothing running: every process started in the soak's project (supervisors, trainers).
  if (!projectDir) return;
  for (const p of processes()) if (p.cwd.startsWith(projectDir)) kill9(p.pid);
});

describe('soak: 20 detached runs under random kill -9 and concurrent `runs list`', () => {
  it('every run ends in its true state, none lost while alive, never two supervisors, billed its measured time at its price', async () => {
    const seed = Number(process.env.LLMOPS_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`soak seed ${seed} (replay: LLMOPS_SOAK_SEED=${seed})`);
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const p = makeProject({yaml: YAML});
    projectDir = p.dir;
    const t0 = Date.now();

    const ids: string[] = [];
    const backendOf = new Map<string, keyof typeof PRICES>();
    const supervisorKills = new Map<string, number>();
    const violations: string[] = [];
    const log: string[] = [];
    const note = (m: string) => {
      log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
      if (process.env.LLMOPS_SOAK_VERBOSE) console.log(log.at(-1));
    };
    const statusOf = (id: string) => withLedger(p.dbFile, (l) => l.getRun(id));
    const active = () => ids.filter((id) => !FINAL_STATUSES.has(statusOf(id).status));
    let launching = 0;
    let done = false;

    // ---- the launcher: keep AT_ONCE runs going until 20 were started ----------------------
    const launcher = (async () => {
      while (ids.length + launching < RUNS) {
        // At most two CLIs starting at once: each start is a second or more of CPU on 2 cores.
        if (active().length + launching >= AT_ONCE || launching >= 2) {
          await new Promise((r) => setTimeout(r, 300));
          continue;
        }
        const backend = pick(['local', 'cheap'] as const);
        const steps = 8 + Math.floor(rnd() * 20);
        launching++;
        void runCli(['train', '--max-steps', String(steps), '--backend', backend, '--detach', '--json'], {cwd: p.dir}).then((r) => {
          launching--;
          if (r.code !== 0 || !r.json?.id) {
            violations.push(`train --detach failed (${r.code}): ${r.stderr.slice(-500)}`);
            return;
          }
          ids.push(r.json.id);
          backendOf.set(r.json.id, backend);
          note(`launched ${r.json.id} on ${backend}, ${steps} steps`);
        });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    // ---- the watcher: never two supervisors of one run alive at once ----------------------
    const watcher = (async () => {
      while (!done) {
        const procs = processes();
        for (const id of ids) {
          const sups = procs.filter((q) => isSupervisorOf(q, id));
          if (sups.length > 1) violations.push(`${id}: two supervisors alive at once (pids ${sups.map((s) => s.pid).join(', ')})`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // ---- `runs list`, several at once; a run listed lost must have no live process ---------
    const checkLost = (out: {runs?: Array<{id: string; status: string}>}) => {
      const procs = processes();
      for (const r of out.runs ?? []) {
        if (r.status !== 'lost') continue;
        const ref = Number(statusOf(r.id).backend_ref);
        if (ref && procs.some((q) => q.pgrp === ref)) violations.push(`${r.id}: listed lost while its process group ${ref} lives`);
      }
    };
    const listing = (async () => {
      while (!done) {
        const lists = await Promise.all([0, 1, 2].map(() => runCli(['runs', 'list', '--json', '--limit', '0'], {cwd: p.dir})));
        for (const l of lists) {
          if (l.code !== 0) violations.push(`runs list failed (${l.code}): ${l.stderr.slice(-300)}`);
          else checkLost(l.json);
        }
        await new Promise((r) => setTimeout(r, 1500 + rnd() * 2000));
      }
    })();

    // ---- the killer: kill -9 a supervisor or a trainer, or ask a run to stop ---------------
    const killer = (async () => {
      while (ids.length < RUNS || active().length > 0) {
        await new Promise((r) => setTimeout(r, 400 + rnd() * 900));
        // Runs whose process is started (the backend's handle is recorded). A supervisor killed
        // before it submits is covered by runs.test.ts; one killed in the instant between starting
        // the process and recording its handle would orphan it (a known gap: the handle is not yet
        // written by the process itself), so the soak does not aim there.
        const started = active().filter((id) => statusOf(id).backend_ref);
        if (started.length === 0) continue;
        const id = pick(started);
        const run = statusOf(id);
        const roll = rnd();
        if (roll < 0.45) {
          // The supervisor: the ledger's pid, checked to be this run's supervisor (never a recycled pid).
          const sup = processes().find((q) => q.pid === run.pid && isSupervisorOf(q, id));
          if (sup && kill9(sup.pid)) {
            supervisorKills.set(id, (supervisorKills.get(id) ?? 0) + 1);
            note(`kill -9 supervisor ${sup.pid} of ${id}`);
          }
        } else if (roll < 0.65) {
          // The trainer: the python process in the run's group (not the sh that records its exit).
          const pgid = Number(run.backend_ref);
          const trainer = processes().find((q) => q.pgrp === pgid && q.pid !== pgid && q.args.some((a) => a.includes('python')));
          if (trainer && kill9(trainer.pid)) note(`kill -9 trainer ${trainer.pid} of ${id}`);
        } else if (roll < 0.75) {
          const r = await runCli(['runs', 'stop', id, '--json'], {cwd: p.dir});
          note(`runs stop ${id}: ${r.code}`);
          // Refused only when the run ended meanwhile (the stop came too late).
          if (r.code !== 0 && !/already ended/.test(r.stdout + r.stderr)) violations.push(`runs stop ${id} failed (${r.code}): ${r.stderr.slice(-300)}`);
        }
      }
    })();

    await launcher;
    await killer;
    // ---- the end: a bounded loop of `runs list --json` until every run is final -------------
    let listed: Array<{id: string; status: string; reason: string | null}> = [];
    for (let i = 0; i < 40; i++) {
      const l = await runCli(['runs', 'list', '--json', '--limit', '0'], {cwd: p.dir});
      listed = (l.json?.runs ?? []).filter((r: {id: string}) => ids.includes(r.id));
      if (listed.length === RUNS && listed.every((r) => FINAL_STATUSES.has(r.status as never))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    done = true;
    await Promise.all([watcher, listing]);
    const elapsed = (Date.now() - t0) / 1000;
    console.log(`soak: ${RUNS} runs in ${elapsed.toFixed(1)} s\n${log.join('\n')}`);

    expect(violations).toEqual([]);
    expect(ids).toHaveLength(RUNS);
    for (const r of listed) {
      expect(['succeeded', 'failed', 'stopped'], `${r.id}: ${r.status} ${r.reason ?? ''}`).toContain(r.status);
      if (r.status === 'failed') expect(r.reason ?? '', r.id).not.toBe('');
    }
    let billed = 0;
    let measured = 0;
    withLedger(p.dbFile, (l) => {
      for (const id of ids) {
        const run = l.getRun(id);
        const events = l.events(id);
        // Never declared lost on the way (a lost verdict later revised would show here).
        expect(events.some((e) => e.type === 'status_revised'), id).toBe(false);
        // One supervisor at a time: a new one only for a supervisor that was killed.
        const restarts = events.filter((e) => e.type === 'supervisor_restarted').length;
        expect(restarts, `${id}: ${restarts} restarts for ${supervisorKills.get(id) ?? 0} kills`).toBeLessThanOrEqual(supervisorKills.get(id) ?? 0);
        // Billed: from setup (recorded at submit) to the exit the run's own wrapper recorded.
        const state = JSON.parse(run.backend_state_json ?? '{}') as {setupAt?: number};
        const exit = JSON.parse(readFileSync(path.join(run.run_dir, 'exit.json'), 'utf8')) as {ts: string};
        const seconds = (Date.parse(exit.ts) - state.setupAt!) / 1000;
        const price = PRICES[backendOf.get(id)!] / 3600;
        const usd = l.runCost(id).usd;
        expect(Math.abs(usd - seconds * price), `${id}: billed $${usd.toFixed(2)} for ${seconds.toFixed(1)} s at $${price}/s`).toBeLessThan(price);
        billed += usd;
        measured += seconds * price;
      }
    });
    console.log(`soak: billed $${billed.toFixed(2)}, measured $${measured.toFixed(2)}; statuses ${JSON.stringify(listed.reduce<Record<string, number>>((a, r) => ({...a, [r.status]: (a[r.status] ?? 0) + 1}), {}))}; supervisor kills ${[...supervisorKills.values()].reduce((a, b) => a + b, 0)}`);
    expect(Math.abs(billed - measured)).toBeLessThan(RUNS);
  }, 420_000);
});
