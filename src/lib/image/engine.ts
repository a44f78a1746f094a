/**
 * The container engine: docker, or podman where docker is absent. Both take the same commands for
 * what llmops does (build, image inspect, pull, run, stop, logs, rm, port), so callers pass
 * docker's arguments and get one of them. LLMOPS_CONTAINER_ENGINE=docker|podman picks one.
 */
import {environmentError, LlmopsError} from '../errors.js';
import {capture, type CaptureResult} from '../system/exec.js';

export interface ContainerEngine {
  /** The program: "docker" or "podman". */
  bin: 'docker' | 'podman';
  /** The server's (docker) or the program's (podman) version. */
  version: string;
}

const cache = new Map<string, Promise<ContainerEngine>>();

/** The engine to use, checked to answer; cached per process. */
export function findEngine(): Promise<ContainerEngine> {
  const wanted = process.env.LLMOPS_CONTAINER_ENGINE ?? '';
  let found = cache.get(wanted);
  if (!found) {
    found = detect(wanted);
    cache.set(wanted, found);
    found.catch(() => cache.delete(wanted));
  }
  return found;
}

async function detect(wanted: string): Promise<ContainerEngine> {
  if (wanted && wanted !== 'docker' && wanted !== 'podman') {
    throw environmentError(`LLMOPS_CONTAINER_ENGINE=${wanted}: expected docker or podman.`, {fix: 'Try this: unset LLMOPS_CONTAINER_ENGINE to use docker, or podman where docker is absent.'});
  }
  const candidates: Array<'docker' | 'podman'> = wanted ? [wanted as 'docker' | 'podman'] : ['docker', 'podman'];
  for (const bin of candidates) {
    // docker answers {{.Server.Version}} only when its daemon does; podman has no daemon.
    const r = await capture(bin, ['version', '--format', bin === 'docker' ? '{{.Server.Version}}' : '{{.Client.Version}}'], {timeoutMs: 20_000});
    if (r.missing) continue;
    if (!r.ok || !r.stdout.trim()) {
      const why = lastLines(r.stderr || r.stdout, 3) || (r.timedOut ? 'no answer within 20 s' : `exit code ${r.exitCode}`);
      throw environmentError(`${bin} is installed but its daemon does not answer:\n${why}`, {
        fix:
          bin === 'docker'
            ? 'Try this: start it (sudo systemctl start docker, or sudo dockerd &), check DOCKER_HOST, and that your user may use it (the docker group).'
            : 'Try this: podman info shows what is wrong; podman system migrate after an upgrade.',
      });
    }
    return {bin, version: r.stdout.trim()};
  }
  throw environmentError(`Neither docker nor podman is installed${wanted ? ` (LLMOPS_CONTAINER_ENGINE=${wanted})` : ''}: llmops builds and runs images with one of them.`, {
    fix: 'Try this: install Docker (https://docs.docker.com/engine/install/, or apt-get install docker.io) or Podman (apt-get install podman).',
  });
}

/** Runs an engine command to completion (never throws for a non-zero exit). */
export function engineCapture(engine: ContainerEngine, args: readonly string[], timeoutMs = 120_000): Promise<CaptureResult> {
  return capture(engine.bin, args, {timeoutMs});
}

/** Runs an engine command and returns its stdout; a failure is a backend error naming `what`. */
export async function engineRun(engine: ContainerEngine, args: readonly string[], what: string, timeoutMs = 120_000): Promise<string> {
  const r = await engineCapture(engine, args, timeoutMs);
  if (!r.ok) {
    throw new LlmopsError('BACKEND', `${engine.bin} could not ${what}: ${lastLines(r.stderr || r.stdout, 5) || `exit code ${r.exitCode}`}`, {
      fix: `Try this: run \`${engine.bin} ${args.join(' ')}\` yourself to see the whole error.`,
    });
  }
  return r.stdout;
}

/** Whether an image (by tag or id) exists locally. */
export async function imageExists(engine: ContainerEngine, ref: string): Promise<boolean> {
  return (await engineCapture(engine, ['image', 'inspect', '--format', '{{.Id}}', ref], 30_000)).ok;
}

export interface ImageInfo {
  id: string;
  sizeBytes: number;
  labels: Record<string, string>;
}

export async function inspectImage(engine: ContainerEngine, ref: string): Promise<ImageInfo> {
  const out = await engineRun(engine, ['image', 'inspect', '--format', '{{json .}}', ref], `inspect the image ${ref}`, 30_000);
  const j = JSON.parse(out) as {Id: string; Size: number; Config?: {Labels?: Record<string, string> | null}};
  return {id: j.Id, sizeBytes: j.Size, labels: j.Config?.Labels ?? {}};
}

/** The state of a container by name or id; undefined when there is no such container. */
export async function containerState(
  engine: ContainerEngine,
  ref: string,
): Promise<{running: boolean; status: string; exitCode: number; health: string | null; oomKilled: boolean} | undefined> {
  const r = await engineCapture(engine, ['container', 'inspect', '--format', '{{json .State}}', ref], 30_000);
  if (!r.ok) return undefined;
  const s = JSON.parse(r.stdout) as {Running: boolean; Status: string; ExitCode: number; OOMKilled?: boolean; Health?: {Status: string} | null};
  return {running: s.Running, status: s.Status, exitCode: s.ExitCode, health: s.Health?.Status ?? null, oomKilled: Boolean(s.OOMKilled)};
}

export function lastLines(text: string, n: number): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-n).join('\n');
}
