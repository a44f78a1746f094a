/**
 * `llmops image build`: the server and trainer images, built with docker (or podman) from
 * templates/docker/, checked, measured and recorded in the ledger.
 */
import {LlmopsError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {resolveModel} from '../serve/model-dir.js';
import {nowIso} from '../util/time.js';
import {folderSha256, removeContext, serverContext, trainerContext, type ImageTarget} from './context.js';
import {engineCapture, findEngine, imageExists, inspectImage, lastLines, type ContainerEngine} from './engine.js';
import {runBuild} from './run-build.js';

/** The images a user would pull: what `FROM` is without --base. */
export const DEFAULT_BASES: Record<ImageTarget, string> = {
  server: 'node:20-bookworm-slim',
  trainer: 'debian:bookworm-slim',
};

export interface ImageBuildParams {
  target: ImageTarget | 'all';
  base?: string;
  /** RUN_ID or a model folder to bake into the server image. */
  model?: string;
  tag?: string;
  /** Rebuild every layer (docker build --no-cache). */
  noCache?: boolean;
  version: string;
  progress: (msg: string) => void;
}

export interface BuiltImage {
  target: ImageTarget;
  tag: string;
  imageId: string;
  sizeBytes: number;
  base: string;
  engine: string;
  buildSeconds: number;
  modelRunId: string | null;
  modelSha256: string | null;
  labels: Record<string, string>;
}

export interface ImageBuildResult {
  engine: string;
  images: BuiltImage[];
}

export const defaultTag = (target: ImageTarget, version: string, model?: {runId: string | null; sha: string}): string =>
  `llmops-${target}:${version}${model ? `-${model.runId ?? model.sha.slice(0, 12)}` : ''}`;

export async function buildImages(p: ImageBuildParams, ledger: Ledger | undefined): Promise<ImageBuildResult> {
  const targets: ImageTarget[] = p.target === 'all' ? ['server', 'trainer'] : [p.target];
  if (p.tag && targets.length > 1) {
    throw usageError('--tag names one image; --target all builds two.', {fix: 'Try this: --target server --tag TAG, or leave --tag out (llmops-server:VERSION, llmops-trainer:VERSION).'});
  }
  if (p.model && !targets.includes('server')) throw usageError('--model bakes a model into the server image; it does nothing for --target trainer.', {fix: 'Try this: --target server --model RUN_ID'});
  // Resolve the model before anything slow, so a wrong --model fails at once.
  const model = p.model ? resolveModel(p.model, ledger) : null;
  if (model) {
    const {loadServableModel} = await import('../serve/model-dir.js');
    loadServableModel(model.dir, {runId: model.runId});
  }
  const engine = await findEngine();
  const images: BuiltImage[] = [];
  for (const target of targets) {
    const base = p.base ?? DEFAULT_BASES[target];
    await ensureBase(engine, base, target);
    images.push(await buildOne(engine, target, base, p, model));
  }
  if (ledger) {
    for (const i of images) {
      ledger.images.insert({
        image_id: i.imageId,
        tag: i.tag,
        target: i.target,
        engine: i.engine,
        base: i.base,
        size_bytes: i.sizeBytes,
        llmops_version: p.version,
        model_run_id: i.modelRunId,
        model_sha256: i.modelSha256,
        build_seconds: i.buildSeconds,
        created_at: nowIso(),
      });
    }
  }
  return {engine: engine.bin, images};
}

/** The base image must be there or pullable; say which one and how to pass another. */
async function ensureBase(engine: ContainerEngine, base: string, target: ImageTarget): Promise<void> {
  if (await imageExists(engine, base)) return;
  const pulled = await engineCapture(engine, ['pull', base], 15 * 60_000);
  if (pulled.ok) return;
  throw new LlmopsError('ENVIRONMENT', `The base image ${base} is not on this machine and cannot be pulled:\n${lastLines(pulled.stderr || pulled.stdout, 3)}`, {
    fix: `Try this: ${engine.bin} pull ${base} where a registry is reachable, or pass an image you have with --base (\`${engine.bin} images\` lists them), e.g. llmops image build --target ${target} --base IMAGE.`,
  });
}

async function buildOne(
  engine: ContainerEngine,
  target: ImageTarget,
  base: string,
  p: ImageBuildParams,
  model: {dir: string; runId: string | null} | null,
): Promise<BuiltImage> {
  const withModel = target === 'server' && model ? {runId: model.runId, sha: folderSha256(model.dir)} : undefined;
  const tag = p.tag ?? defaultTag(target, p.version, withModel);
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': `llmops-${target}`,
    'org.opencontainers.image.version': p.version,
    'dev.llmops.version': p.version,
    'dev.llmops.target': target,
    ...(withModel ? {'dev.llmops.model.sha256': withModel.sha, ...(withModel.runId ? {'dev.llmops.model.run-id': withModel.runId} : {})} : {}),
  };
  p.progress(`Building the ${target} image ${tag} from ${base} with ${engine.bin}...`);
  const ctx = target === 'server' ? await serverContext(withModel ? model : null) : trainerContext();
  const started = Date.now();
  try {
    await runBuild(engine, {dir: ctx, tag, base, labels, target, ...(p.noCache ? {noCache: true} : {})}, p.progress);
  } finally {
    removeContext(ctx);
  }
  const buildSeconds = (Date.now() - started) / 1000;
  const info = await inspectImage(engine, tag);
  p.progress(`Built ${tag} (${(info.sizeBytes / 1e6).toFixed(0)} MB) in ${buildSeconds.toFixed(1)} s.`);
  return {
    target,
    tag,
    imageId: info.id,
    sizeBytes: info.sizeBytes,
    base,
    engine: engine.bin,
    buildSeconds,
    modelRunId: withModel?.runId ?? null,
    modelSha256: withModel?.sha ?? null,
    labels: info.labels,
  };
}
