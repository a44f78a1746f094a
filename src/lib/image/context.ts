/**
 * Build contexts for the images: a temporary folder with the Dockerfile and exactly what it
 * copies, so the engine never uploads the project (or its node_modules) as context.
 */
import {createHash} from 'node:crypto';
import {copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {environmentError, LlmopsError} from '../errors.js';
import {capture} from '../system/exec.js';
import {packagePath, packageRoot} from '../util/package-root.js';
import {lastLines} from './engine.js';

export type ImageTarget = 'server' | 'trainer';

export const dockerfilePath = (target: ImageTarget): string => packagePath('templates', 'docker', `${target}.Dockerfile`);

export function newContextDir(target: ImageTarget): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `llmops-image-${target}-`));
  copyFileSync(dockerfilePath(target), path.join(dir, 'Dockerfile'));
  return dir;
}

/**
 * The server's context: package.json and package-lock.json (the dependency pins), llmops.tgz
 * (`npm pack` of this llmops: bin, dist, templates, manifest) and model/ (empty, or the model).
 */
export async function serverContext(model: {dir: string} | null): Promise<string> {
  const root = packageRoot();
  if (!existsSync(path.join(root, 'dist'))) {
    throw environmentError(`This llmops has no dist/ folder (${root}): the image packs the built CLI.`, {fix: 'Try this: npm run build, then build the image again.'});
  }
  const dir = newContextDir('server');
  for (const f of ['package.json', 'package-lock.json']) if (existsSync(path.join(root, f))) copyFileSync(path.join(root, f), path.join(dir, f));
  // An installed llmops has no lock file: the Dockerfile then runs npm install instead of npm ci.
  const npm = await capture('npm', ['pack', '--silent', '--pack-destination', dir], {cwd: root, timeoutMs: 300_000});
  if (npm.missing) throw environmentError('npm is not on PATH: the server image packs llmops with `npm pack`.', {fix: 'Try this: install Node.js 20 with npm.'});
  const tgz = npm.stdout.trim().split('\n').at(-1) ?? '';
  if (!npm.ok || !tgz.endsWith('.tgz') || !existsSync(path.join(dir, tgz))) {
    throw new LlmopsError('ENVIRONMENT', `npm pack failed in ${root}:\n${lastLines(npm.stderr || npm.stdout, 10)}`, {fix: `Try this: run \`npm pack --dry-run\` in ${root} to see why.`});
  }
  renameSync(path.join(dir, tgz), path.join(dir, 'llmops.tgz'));
  mkdirSync(path.join(dir, 'model'));
  if (model) cpSync(model.dir, path.join(dir, 'model'), {recursive: true, dereference: true});
  // Docker needs a file in each COPY source; an empty model/ is valid but keep a marker for podman.
  return dir;
}

/** The trainer's context: the trainer's Python files (tests and caches left out). */
export function trainerContext(): string {
  const dir = newContextDir('trainer');
  cpSync(packagePath('templates', 'trainer'), path.join(dir, 'trainer'), {
    recursive: true,
    filter: (src) => !/(__pycache__|\.pyc$|(^|\/)test_[^/]*\.py$)/.test(src),
  });
  return dir;
}

export function removeContext(dir: string): void {
  rmSync(dir, {recursive: true, force: true});
}

/** sha256 over a model folder: relative paths and contents, in sorted order. */
export function folderSha256(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = path.join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else {
        h.update(`${r}\0${st.size}\0`);
        h.update(readFileSync(path.join(dir, r)));
      }
    }
  };
  walk('');
  return h.digest('hex');
}
