/**
 * A run laid out on another machine: which local paths become which remote paths, what is synced,
 * and the rewritten spec/command/env. Shared by the SSH backend and the Slurm backend (when it
 * submits through a login node).
 *
 * Remote layout, under the backend's workdir W (absolute, resolved once on the remote):
 *   W/trainer/            the trainer (mirrored from the project's trainer/ before each run)
 *   W/datasets/<id>/      a prepared dataset, synced once per id (".llmops-complete" marks it whole)
 *   W/inputs/<tag>/       other inputs from outside the project (base models, resume checkpoints)
 *   W/<RUN_ID>/           the run dir: spec.json, events.jsonl, logs/run.log, checkpoints/, model/
 * The command runs with cwd W, so project-relative paths such as trainer/train.py still resolve.
 */
import {existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {usageError} from '../errors.js';
import type {RunSpec} from './backend.js';
import {pathTag, rsyncPull, rsyncPush, shq, sshBytes, sshCheck, sshError, type SshTarget} from '../system/ssh.js';

export const COMPLETE_MARKER = '.llmops-complete';

export interface SyncItem {
  local: string;
  remote: string;
  kind: RunSpec['inputs'][number]['kind'];
  id?: string;
  /** Synced once and marked complete (datasets): skipped when the remote already has it. */
  once: boolean;
}

export interface RemotePlan {
  workdir: string;
  runDir: string;
  /** [local prefix, remote prefix], longest first. */
  mapping: Array<[string, string]>;
  syncs: SyncItem[];
  command: string[];
  env: Record<string, string>;
  spec?: Record<string, unknown>;
}

function isUnder(p: string, prefix: string): boolean {
  return p === prefix || p.startsWith(prefix.endsWith('/') ? prefix : prefix + '/');
}

/** Rewrites one path-like string through the mapping; anything else is returned unchanged. */
export function mapPath(value: string, mapping: Array<[string, string]>, base?: string): string {
  const abs = path.isAbsolute(value) ? path.normalize(value) : base ? path.resolve(base, value) : undefined;
  if (!abs) return value;
  for (const [local, remote] of mapping) {
    if (isUnder(abs, local)) return remote + abs.slice(local.length);
  }
  return value;
}

function mapDeep(v: unknown, mapping: Array<[string, string]>): unknown {
  if (typeof v === 'string') return path.isAbsolute(v) ? mapPath(v, mapping) : v;
  if (Array.isArray(v)) return v.map((x) => mapDeep(x, mapping));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapDeep(x, mapping)]));
  return v;
}

const PYTHON_RE = /^python[\d.]*$/;

/** Plans the remote side of a run; pure (no I/O), so it is tested on its own. */
export function planRemoteRun(spec: RunSpec, workdir: string, opts: {python?: string; localPython?: string} = {}): RemotePlan {
  const runDir = path.posix.join(workdir, spec.runId);
  const root = path.resolve(spec.projectRoot);
  const syncs: SyncItem[] = [];
  for (const input of spec.inputs) {
    const local = path.resolve(root, input.local);
    let remote: string;
    if (input.remote) remote = path.posix.isAbsolute(input.remote) ? input.remote : path.posix.join(workdir, input.remote);
    else if (input.kind === 'dataset') remote = path.posix.join(workdir, 'datasets', input.id ?? pathTag(local));
    else if (input.kind === 'trainer') remote = isUnder(local, root) && local !== root ? path.posix.join(workdir, path.relative(root, local)) : path.posix.join(workdir, 'trainer');
    else if (isUnder(local, root) && local !== root && !isUnder(local, path.join(root, '.llmops'))) remote = path.posix.join(workdir, path.relative(root, local));
    else remote = path.posix.join(workdir, 'inputs', pathTag(local));
    syncs.push({local, remote, kind: input.kind, id: input.id, once: input.kind === 'dataset' && Boolean(input.id)});
  }
  // Paths the run needs that no input names: a custom tokenizer, a brought-your-own script in the project.
  const extra = new Set<string>();
  const tok = spec.trainerSpec?.tokenizer;
  if (typeof tok === 'string' && path.isAbsolute(tok)) extra.add(tok);
  if (spec.kind === 'command') {
    for (const a of spec.command.slice(1)) {
      if (a.startsWith('-')) continue;
      const abs = path.resolve(root, a);
      if (isUnder(abs, root) && abs !== root && !isUnder(abs, path.join(root, '.llmops')) && existsSync(abs) && statSync(abs).isFile()) extra.add(abs);
    }
  }
  for (const local of extra) {
    if (syncs.some((s) => isUnder(local, s.local))) continue;
    const remote = isUnder(local, root) ? path.posix.join(workdir, path.relative(root, local)) : path.posix.join(workdir, 'inputs', pathTag(local));
    syncs.push({local, remote, kind: 'other', once: false});
  }
  const pairs: Array<[string, string]> = [[path.resolve(spec.runDir), runDir], ...syncs.map((s): [string, string] => [s.local, s.remote])];
  const mapping = pairs.sort((a, b) => b[0].length - a[0].length);

  const [program, ...args] = spec.command;
  if (!program) throw usageError('The run has no command to start.');
  const isPython = PYTHON_RE.test(path.basename(program)) || (opts.localPython !== undefined && program === opts.localPython);
  const command = [
    isPython && opts.python ? opts.python : mapPath(program, mapping),
    ...args.map((a) => (a.startsWith('-') ? a : mapPath(a, mapping, root))),
  ];
  const env = Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, path.isAbsolute(v) ? mapPath(v, mapping) : v]));
  Object.assign(env, {
    LLMOPS_EVENTS: path.posix.join(runDir, 'events.jsonl'),
    LLMOPS_RUN_ID: spec.runId,
    LLMOPS_RUN_DIR: runDir,
    PYTHONUNBUFFERED: '1',
  });
  const trainerSpec = spec.trainerSpec ? (mapDeep(spec.trainerSpec, mapping) as Record<string, unknown>) : undefined;
  return {workdir, runDir, mapping, syncs, command, env, ...(trainerSpec ? {spec: trainerSpec} : {})};
}

/** `export NAME='value'` lines for variables passed through from our environment (sent on stdin, never written to disk). */
export function passEnvScript(names: string[], env: NodeJS.ProcessEnv = process.env): string {
  const lines: string[] = [];
  for (const name of names) {
    if (!/^[A-Za-z_]\w*$/.test(name)) throw usageError(`Cannot pass environment variable "${name}": not a valid variable name.`);
    const value = env[name];
    if (value !== undefined) lines.push(`export ${name}=${shq(value)}`);
  }
  return lines.join('\n') + '\n';
}

/** Makes the workdir on the remote and returns its absolute path (a relative workdir is under the remote home). */
export async function resolveWorkdir(t: SshTarget, workdir: string): Promise<string> {
  const rel = workdir === '~' ? '.' : workdir.startsWith('~/') ? workdir.slice(2) : workdir;
  const out = await sshCheck(t, `mkdir -p ${shq(rel)} && cd ${shq(rel)} && pwd -P`, `create the workdir ${workdir}`);
  const abs = out.trim().split('\n').pop() ?? '';
  if (!abs.startsWith('/')) throw usageError(`Could not resolve the remote workdir "${workdir}" (got "${abs}").`);
  return abs;
}

export interface SyncReport {
  synced: string[];
  skipped: string[];
}

/**
 * Sends the run's inputs and its staged run-dir files (spec.json with remote paths, scripts).
 * A dataset whose id the remote already holds is not sent again.
 */
export async function syncRun(t: SshTarget, plan: RemotePlan, staged: Record<string, string>, progress?: (msg: string) => void): Promise<SyncReport> {
  const report: SyncReport = {synced: [], skipped: []};
  const onceItems = plan.syncs.filter((s) => s.once);
  const present = new Set<string>();
  if (onceItems.length > 0) {
    const probe = onceItems.map((s) => `[ -f ${shq(path.posix.join(s.remote, COMPLETE_MARKER))} ] && echo ${shq(s.remote)}`).join('; ');
    const out = await sshCheck(t, `${probe}; true`, 'check which datasets are already there');
    for (const line of out.split('\n')) if (line.trim()) present.add(line.trim());
  }
  const parents = new Set(plan.syncs.map((s) => path.posix.dirname(s.remote)));
  await sshCheck(t, `mkdir -p ${[...parents, plan.runDir, path.posix.join(plan.runDir, 'logs')].map(shq).join(' ')}`, 'create the run directory');
  for (const s of plan.syncs) {
    if (!existsSync(s.local)) throw usageError(`Input ${s.local} (${s.kind}) does not exist; nothing to copy to the remote.`);
    if (s.once && present.has(s.remote)) {
      report.skipped.push(s.remote);
      continue;
    }
    progress?.(`syncing ${s.kind} ${s.id ?? path.basename(s.local)} -> ${t.host}:${s.remote}`);
    if (isDirectory(s.local)) {
      await rsyncPush(t, [s.local.endsWith('/') ? s.local : s.local + '/'], s.remote, {
        delete: s.kind === 'trainer',
        copyLinks: s.kind === 'base-model',
        exclude: [COMPLETE_MARKER],
      });
    } else {
      await rsyncPush(t, [s.local], path.posix.dirname(s.remote));
    }
    if (s.once) await sshCheck(t, `touch ${shq(path.posix.join(s.remote, COMPLETE_MARKER))}`, 'mark the dataset complete');
    report.synced.push(s.remote);
  }
  if (Object.keys(staged).length > 0) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-stage-'));
    try {
      for (const [name, content] of Object.entries(staged)) {
        mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
        writeFileSync(path.join(dir, name), content, {mode: name.endsWith('.sh') || name.endsWith('.sbatch') ? 0o755 : 0o644});
      }
      await rsyncPush(t, [dir + '/'], plan.runDir);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  }
  return report;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The bytes appended to a remote file after `offset` (at most `max`), or an empty buffer. */
export async function readRemoteBytes(t: SshTarget, file: string, offset: number, max: number): Promise<Buffer> {
  const r = await sshBytes(t, `[ -f ${shq(file)} ] || exit 0; tail -c +${offset + 1} ${shq(file)} | head -c ${max}`);
  if (!r.ok) {
    throw sshError(t, {exitCode: r.exitCode, stderr: r.stderr}, `read ${path.posix.basename(file)}`);
  }
  return r.stdout;
}

export {wholeLines, wholeText} from '../system/tail.js';

/** Rewrites remote run-dir paths in event lines to the local run dir (artifacts are fetched there). */
export function localizeLine(line: string, remoteRunDir: string, localRunDir: string): string {
  const from = JSON.stringify(remoteRunDir).slice(1, -1);
  const to = JSON.stringify(localRunDir).slice(1, -1);
  return line.includes(from) ? line.split(from).join(to) : line;
}

/** Brings checkpoints/ and model/ back into the local run dir (the log is mirrored as it grows). */
export async function pullArtifacts(t: SshTarget, remoteRunDir: string, localRunDir: string): Promise<void> {
  const probe = await sshCheck(t, ['checkpoints', 'model'].map((d) => `[ -d ${shq(path.posix.join(remoteRunDir, d))} ] && echo ${d}`).join('; ') + '; true', 'list the run artifacts');
  const present = probe.split('\n').map((s) => s.trim()).filter(Boolean);
  if (present.length === 0) return;
  await rsyncPull(t, present.map((d) => path.posix.join(remoteRunDir, d)), localRunDir);
}
