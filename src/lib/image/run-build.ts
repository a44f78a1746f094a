/**
 * One `docker build` (or `podman build`), its steps shown as progress, and a failure reported
 * with the failing step and its last output lines.
 */
import {LlmopsError} from '../errors.js';
import {spawnGroup} from '../system/exec.js';
import {SERVER_NODE_ARGS} from '../serve/deployments.js';
import type {ContainerEngine} from './engine.js';

export interface BuildSpec {
  dir: string;
  tag: string;
  base: string;
  labels: Record<string, string>;
  target: string;
  noCache?: boolean;
}

/** Lines that start a build step: docker's legacy builder, BuildKit (plain progress) and buildah. */
const STEP = /^(Step \d+\/\d+ : |STEP \d+\/\d+: |#\d+ \[[^\]]+\] )/;

export async function runBuild(engine: ContainerEngine, b: BuildSpec, progress: (m: string) => void): Promise<void> {
  const args = ['build', '--tag', b.tag, '--build-arg', `BASE=${b.base}`, ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`])];
  // The server image runs `llmops deploy` in the foreground: its Node flags come as NODE_OPTIONS.
  if (b.target === 'server') args.push('--build-arg', `NODE_OPTIONS=${SERVER_NODE_ARGS.join(' ')}`);
  if (b.noCache) args.push('--no-cache');
  if (engine.bin === 'podman') args.push('--format', 'docker'); // HEALTHCHECK is a docker-format field
  args.push(b.dir);
  // The legacy builder prints one plain line per step everywhere (BuildKit needs buildx).
  const env: Record<string, string> = engine.bin === 'docker' && !process.env.DOCKER_BUILDKIT ? {DOCKER_BUILDKIT: '0'} : {};
  const proc = await spawnGroup(engine.bin, args, {cwd: b.dir, env}).catch((error: Error) => {
    throw new LlmopsError('ENVIRONMENT', `Could not start ${engine.bin} build: ${error.message}`);
  });
  const recent: string[] = [];
  let step = '';
  let stepLines: string[] = [];
  proc.onLine((raw) => {
    // The legacy builder colours a RUN step's stderr red.
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
    recent.push(line);
    if (recent.length > 200) recent.shift();
    if (STEP.test(line)) {
      step = line;
      stepLines = [];
      progress(`  ${line.length > 160 ? line.slice(0, 157) + '...' : line}`);
    } else {
      stepLines.push(line);
      if (stepLines.length > 200) stepLines.shift();
    }
  });
  const r = await proc.exited;
  if (r.exitCode === 0) return;
  const tail = (stepLines.length > 0 ? stepLines : recent).filter((l) => l.trim() !== '' && !/^npm notice/.test(l)).slice(-25).join('\n');
  throw new LlmopsError('RUN_FAILED', `Building the ${b.target} image ${b.tag} failed${step ? ` at ${step}` : ''} (exit code ${r.exitCode ?? r.signal}):\n${tail}`, {
    fix: step.includes('npm') ? 'Try this: check that the npm registry is reachable from the build (docker build --network host, or an npm mirror).' : 'Try this: fix the step above (a base image without apt-get or python3 needs another --base), then build again.',
  });
}
