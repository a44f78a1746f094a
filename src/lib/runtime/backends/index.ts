/**
 * The backend registry: a backend name from llmops.yaml (or --backend) -> a Backend instance.
 *
 * Each backend type lives in its own module, imported only when used (the ssh/Slurm/Kubernetes
 * modules pull in helpers a local run never needs). A module exports its class as `<Type>Backend`
 * (LocalBackend, SshBackend, SlurmBackend, KubernetesBackend), with the constructor
 * `(name, config, loaded)`.
 */
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {ConfigError, LlmopsError} from '../../errors.js';
import {closest} from '../../util/did-you-mean.js';
import type {Backend} from '../backend.js';

export type BackendCtor = new (name: string, config: BackendConfig, loaded: LoadedConfig) => Backend;

const MODULES: Record<BackendConfig['type'], () => Promise<BackendCtor>> = {
  local: async () => (await import('./local.js')).LocalBackend,
  ssh: async () => (await import('./ssh.js')).SshBackend,
  slurm: async () => (await import('./slurm.js')).SlurmBackend,
  kubernetes: async () => (await import('./kubernetes.js')).KubernetesBackend,
  docker: async () => (await import('./docker.js')).DockerBackend,
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
  let Ctor: BackendCtor;
  try {
    Ctor = await MODULES[config.type]();
  } catch (error) {
    throw new LlmopsError('BACKEND', `The ${config.type} backend is not available in this build of llmops (${(error as Error).message}).`, {
      fix: 'Try this: use another backend (--backend local), or upgrade llmops.',
      cause: error,
    });
  }
  return new Ctor(name, config, loaded);
}
