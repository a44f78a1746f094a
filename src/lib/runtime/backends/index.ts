/**
 * The backend registry: a backend name from llmops.yaml (or --backend) -> a Backend instance.
 *
 * Each backend type lives in its own module, imported only when used (the ssh/Slurm/Kubernetes
 * modules pull in helpers a local run never needs). A module exports its class as the default
 * export or as `<Type>Backend` (LocalBackend, SshBackend, SlurmBackend, KubernetesBackend), with
 * the constructor `(name, config, loaded)`.
 */
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {ConfigError, LlmopsError} from '../../errors.js';
import {closest} from '../../util/did-you-mean.js';
import type {Backend} from '../backend.js';

export type BackendCtor = new (name: string, config: BackendConfig, loaded: LoadedConfig) => Backend;

const MODULES: Record<BackendConfig['type'], {file: string; exportName: string}> = {
  local: {file: './local.js', exportName: 'LocalBackend'},
  ssh: {file: './ssh.js', exportName: 'SshBackend'},
  slurm: {file: './slurm.js', exportName: 'SlurmBackend'},
  kubernetes: {file: './kubernetes.js', exportName: 'KubernetesBackend'},
  docker: {file: './docker.js', exportName: 'DockerBackend'},
};

/** The config of a named backend; `local` exists even when llmops.yaml does not define it. */
export function backendConfig(name: string, loaded: LoadedConfig): BackendConfig {
  const configured = loaded.config.backends[name];
  if (configured) return configured;
  if (name === 'local') return {type: 'local'};
  const names = ['local', ...Object.keys(loaded.config.backends)];
  const guess = closest(name, names);
  throw new ConfigError(
    [
      {
        file: loaded.file ?? 'llmops.yaml',
        path: `backends.${name}`,
        message: `no backend named "${name}"`,
        expected: `one of ${names.join(', ')}`,
        ...(guess ? {didYouMean: guess} : {}),
      },
    ],
    {fix: `Try this: add it under \`backends:\` in llmops.yaml (see docs/backends.md), or use --backend ${guess ?? 'local'}.`},
  );
}

export async function getBackend(name: string, loaded: LoadedConfig): Promise<Backend> {
  const config = backendConfig(name, loaded);
  const entry = MODULES[config.type];
  // A variable specifier keeps tsc from requiring modules other engineers may not have written yet.
  const specifier: string = entry.file;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new LlmopsError('BACKEND', `The ${config.type} backend is not available in this build of llmops (${(error as Error).message}).`, {
      fix: 'Try this: use another backend (--backend local), or upgrade llmops.',
      cause: error,
    });
  }
  const Ctor = (mod[entry.exportName] ?? mod.default) as BackendCtor | undefined;
  if (typeof Ctor !== 'function') {
    throw new LlmopsError('BUG', `Backend module ${entry.file} exports neither ${entry.exportName} nor a default class.`);
  }
  return new Ctor(name, config, loaded);
}
