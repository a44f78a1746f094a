/**
 * The system OpenSSH client and rsync, run through the process layer (exec.ts), for remote backends (SSH hosts, Slurm
 * login nodes) and remote deploys.
 *
 * We shell out to `ssh` rather than use a JS SSH library so that the user's ~/.ssh/config, agent,
 * ProxyJump, certificates and known_hosts all apply unchanged. One ControlMaster connection per
 * host is shared by every call (and by the CLI and the supervisor), so a poll costs a round trip,
 * not a handshake. BatchMode is on: we never prompt, and strict host-key checking is left on.
 */
import {createHash} from 'node:crypto';
import {mkdirSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {LlmopsError, backendError, environmentError} from '../errors.js';
import {sleep} from '../util/time.js';
import {capture, captureBytes, type CaptureResult} from './exec.js';

export interface SshTarget {
  /** user@host, or a Host alias from ~/.ssh/config. */
  host: string;
  port?: number;
  identityFile?: string;
  /** Extra `-o` options (e.g. "UserKnownHostsFile=/path"). */
  options?: string[];
  /** Seconds a shared connection stays open after its last use. */
  persistSeconds?: number;
}

/** The target of an `ssh` backend entry in llmops.yaml (deploys and remote runs share it). */
export function sshTarget(cfg: {host: string; port?: number; identity_file?: string; ssh_options?: string[]}): SshTarget {
  return {host: cfg.host, port: cfg.port, identityFile: cfg.identity_file, options: cfg.ssh_options ?? []};
}

/** Expands a leading `~/` (ssh itself does for -i, but we also check the file exists). */
export function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** Quotes one word for a POSIX shell. */
export function shq(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Where ControlMaster sockets live: short (sun_path is ~104 bytes), private to this user. */
function controlDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = path.join(process.env.LLMOPS_SSH_CONTROL_DIR ?? os.tmpdir(), `llmops-ssh-${uid}`);
  mkdirSync(dir, {recursive: true, mode: 0o700});
  return dir;
}

/** ssh options (everything but the host and the command). */
export function sshOptions(t: SshTarget): string[] {
  const args = [
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=15',
    '-o', 'ServerAliveInterval=10',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'ControlMaster=auto',
    '-o', `ControlPath=${path.join(controlDir(), '%C')}`,
    '-o', `ControlPersist=${t.persistSeconds ?? 300}`,
  ];
  if (t.port) args.push('-p', String(t.port));
  if (t.identityFile) args.push('-i', expandHome(t.identityFile), '-o', 'IdentitiesOnly=yes');
  for (const o of t.options ?? []) args.push('-o', o);
  return args;
}

/** A short label for messages: never a key, only where we connect. */
export function describeTarget(t: SshTarget): string {
  return t.port ? `${t.host} (port ${t.port})` : t.host;
}

function hostOnly(t: SshTarget): string {
  const h = t.host.includes('@') ? t.host.slice(t.host.indexOf('@') + 1) : t.host;
  return h;
}

export type SshFailure = 'hostkey' | 'auth' | 'connect' | 'command';

/** Classifies a failed ssh call: exit 255 is ssh's own failure; anything else is the remote command's. */
export function classifySshFailure(r: Pick<CaptureResult, 'exitCode' | 'stderr'>): SshFailure {
  if (r.exitCode !== 255) return 'command';
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No (ED25519|RSA|ECDSA)?\s*host key is known/i.test(r.stderr)) {
    return 'hostkey';
  }
  if (/Permission denied|Too many authentication failures/i.test(r.stderr)) return 'auth';
  return 'connect';
}

/** Turns an ssh failure into an error the user can act on (ssh's own words quoted, no secrets). */
export function sshError(t: SshTarget, r: Pick<CaptureResult, 'exitCode' | 'stderr'>, what: string): LlmopsError {
  const kind = classifySshFailure(r);
  const said = lastMeaningfulLines(r.stderr);
  const where = describeTarget(t);
  const portFlag = t.port ? `-p ${t.port} ` : '';
  switch (kind) {
    case 'hostkey':
      return backendError(`ssh refused to connect to ${where}: its host key is not in known_hosts (or changed), and strict host-key checking is on. ssh said: ${said}`, {
        fix: `Try this: verify the host's fingerprint, then add it: ssh-keyscan ${portFlag}${hostOnly(t)} >> ~/.ssh/known_hosts (or connect once by hand: ssh ${portFlag}${t.host}), or point ssh_options at your file: ["UserKnownHostsFile=/path/known_hosts"].`,
        details: {host: t.host, port: t.port ?? null, failure: kind},
      });
    case 'auth':
      return backendError(`ssh could not log in to ${where}: ${said}`, {
        fix: `Try this: check that \`ssh ${portFlag}${t.host} true\` works without a password (load your key into ssh-agent or set identity_file in the backend).`,
        details: {host: t.host, port: t.port ?? null, failure: kind},
      });
    case 'connect':
      return backendError(`Cannot reach ${where} over ssh while trying to ${what}: ${said}`, {
        fix: `Try this: check the host and port (\`ssh ${portFlag}${t.host} true\`), your network or VPN, and that sshd runs there.`,
        details: {host: t.host, port: t.port ?? null, failure: kind},
      });
    default:
      return backendError(`On ${where}, failed to ${what} (exit ${r.exitCode}): ${said}`, {
        details: {host: t.host, port: t.port ?? null, failure: kind, exitCode: r.exitCode ?? null},
      });
  }
}

function lastMeaningfulLines(stderr: string, n = 3): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Warning: Permanently added|@@@@)/.test(l));
  return lines.slice(-n).join(' | ') || '(no message)';
}

/** Wraps a POSIX sh script so that the remote login shell (bash, zsh, fish...) does not matter. */
export function remoteShCommand(script: string): string {
  return `sh -c ${shq(script)}`;
}

export interface SshRunOptions {
  input?: string;
  timeoutMs?: number;
  /** Retries when the connection itself failed (exit 255, not host key or auth). */
  retries?: number;
}

/** Runs a sh script on the host. Never throws for the script's own exit code; see `sshCheck`. */
export async function sshRun(t: SshTarget, script: string, opts: SshRunOptions = {}): Promise<CaptureResult> {
  const args = [...sshOptions(t), t.host, remoteShCommand(script)];
  let attempt = 0;
  for (;;) {
    const r = await capture('ssh', args, {input: opts.input ?? '', timeoutMs: opts.timeoutMs ?? 60_000});
    if (r.missing) throw environmentError('The `ssh` program was not found.', {fix: 'Try this: install the OpenSSH client (apt-get install openssh-client).'});
    const retriable = (r.exitCode === 255 && classifySshFailure(r) === 'connect') || r.timedOut;
    if (!retriable || attempt >= (opts.retries ?? 2)) return r;
    attempt++;
    await sleep(500 * 2 ** attempt);
  }
}

/** Runs a sh script and returns its stdout, throwing a clear BACKEND error on any failure. */
export async function sshCheck(t: SshTarget, script: string, what: string, opts: SshRunOptions = {}): Promise<string> {
  const r = await sshRun(t, script, opts);
  if (!r.ok) throw sshError(t, r, what);
  return r.stdout;
}

/** Like sshRun but returns stdout as bytes (offset arithmetic on files must count bytes, not chars). */
export async function sshBytes(t: SshTarget, script: string, opts: SshRunOptions = {}): Promise<{ok: boolean; exitCode?: number; stdout: Buffer; stderr: string}> {
  const args = [...sshOptions(t), t.host, remoteShCommand(script)];
  let attempt = 0;
  for (;;) {
    const r = await captureBytes('ssh', args, {timeoutMs: opts.timeoutMs ?? 60_000});
    const out = {ok: r.ok, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr};
    const retriable = r.exitCode === 255 && classifySshFailure({exitCode: 255, stderr: r.stderr}) === 'connect';
    if (!retriable || attempt >= (opts.retries ?? 2)) return out;
    attempt++;
    await sleep(500 * 2 ** attempt);
  }
}

/** Closes the shared connection (tests use it to simulate a dropped link; harmless if none). */
export async function sshCloseMaster(t: SshTarget): Promise<void> {
  await capture('ssh', [...sshOptions(t), '-O', 'exit', t.host], {timeoutMs: 10_000});
}

/** Paths never copied to a remote machine: our ledger and run state, VCS data, secrets. */
export const NEVER_SYNC = [
  '.llmops/',
  '.git/',
  '__pycache__/',
  '.env',
  '.env.*',
  '*.pem',
  '*.key',
  'id_rsa*',
  'id_ed25519*',
  'id_ecdsa*',
  '.ssh/',
  '.netrc',
  '.npmrc',
  '.huggingface/',
  'token',
];

export interface RsyncOptions {
  exclude?: string[];
  /** Mirror: delete files on the receiver that the sender does not have. */
  delete?: boolean;
  /** Copy what symlinks point to (a Hugging Face cache snapshot is symlinks into blobs/). */
  copyLinks?: boolean;
  timeoutMs?: number;
}

/** The `-e` value: rsync splits it like a shell, so each word is quoted. */
function rsyncShell(t: SshTarget): string {
  return ['ssh', ...sshOptions(t)].map(shq).join(' ');
}

async function rsync(t: SshTarget, args: string[], what: string, opts: RsyncOptions): Promise<void> {
  const excludes = [...NEVER_SYNC, ...(opts.exclude ?? [])].flatMap((e) => ['--exclude', e]);
  // --protect-args: remote paths are not split or globbed by the remote shell.
  const full = ['-a', '--protect-args', '--partial', ...(opts.delete ? ['--delete'] : []), ...(opts.copyLinks ? ['--copy-links'] : []), ...excludes, '-e', rsyncShell(t), ...args];
  let attempt = 0;
  for (;;) {
    const r = await capture('rsync', full, {timeoutMs: opts.timeoutMs ?? 30 * 60_000});
    if (r.missing) throw environmentError('The `rsync` program was not found on this machine.', {fix: 'Try this: install rsync (apt-get install rsync; brew install rsync).'});
    if (r.ok) return;
    // rsync exits 255/12 when ssh itself failed; 12/30/35 are dropped connections worth a retry.
    const sshFailed = r.exitCode === 255 || /ssh: |Host key verification failed|Permission denied|Connection (refused|closed|reset)/i.test(r.stderr);
    if (sshFailed) {
      const err = sshError(t, {exitCode: 255, stderr: r.stderr}, what);
      if (classifySshFailure({exitCode: 255, stderr: r.stderr}) !== 'connect' || attempt >= 2) throw err;
    } else if (/command not found|rsync: not found|No such file or directory.*rsync/i.test(r.stderr) && r.exitCode === 127) {
      throw environmentError(`rsync is not installed on ${describeTarget(t)}.`, {fix: 'Try this: install rsync on the remote host (apt-get install rsync).'});
    } else if (![12, 30, 35].includes(r.exitCode ?? 0) || attempt >= 2) {
      throw backendError(`rsync failed to ${what} (${describeTarget(t)}, exit ${r.exitCode}): ${lastMeaningfulLines(r.stderr)}`, {
        details: {host: t.host, exitCode: r.exitCode ?? null},
      });
    }
    attempt++;
    await sleep(500 * 2 ** attempt);
  }
}

/** Copies local files or directories into a remote directory (trailing "/" on a source copies its contents). */
export async function rsyncPush(t: SshTarget, sources: string[], remoteDir: string, opts: RsyncOptions = {}): Promise<void> {
  await rsync(t, [...sources, `${t.host}:${remoteDir.endsWith('/') ? remoteDir : remoteDir + '/'}`], `copy ${sources.map((s) => path.basename(s)).join(', ')} to ${remoteDir}`, opts);
}

/** Copies remote files or directories into a local directory. */
export async function rsyncPull(t: SshTarget, remoteSources: string[], localDir: string, opts: RsyncOptions = {}): Promise<void> {
  mkdirSync(localDir, {recursive: true});
  const srcs = remoteSources.map((s, i) => (i === 0 ? `${t.host}:${s}` : `:${s}`));
  await rsync(t, [...srcs, localDir.endsWith('/') ? localDir : localDir + '/'], `fetch ${remoteSources.map((s) => path.basename(s)).join(', ')}`, opts);
}

/** A stable short name for a local path (inputs that live outside the project). */
export function pathTag(p: string): string {
  return `${createHash('sha1').update(p).digest('hex').slice(0, 10)}-${path.basename(p).replace(/[^\w.-]/g, '_')}`;
}
