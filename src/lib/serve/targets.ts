/** `llmops deploy --target BACKEND`: deployments on a backend from llmops.yaml instead of this machine. */
import type {LoadedConfig} from '../config/load.js';
import {backendError, LlmopsError, notFoundError, usageError} from '../errors.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import {toInfo, type StopResult} from './deployments.js';
import {isK8sName, manifestsYaml, renderManifests} from './k8s.js';

export interface BackendDeployParams {
  target: string;
  name: string;
  engine: 'llmops' | 'vllm';
  dryRun: boolean;
  hfModel?: string;
  modelClaim?: string;
  replicas: number;
  maxReplicas: number;
  image?: string;
  version: string;
}

export interface RenderResult {
  target: string;
  engine: 'llmops' | 'vllm';
  dryRun: true;
  manifests: Array<Record<string, unknown>>;
  yaml: string;
}

export async function deployToBackend(loaded: LoadedConfig, p: BackendDeployParams): Promise<RenderResult> {
  const backend = loaded.config.backends[p.target];
  if (!backend) {
    const names = ['local', ...Object.keys(loaded.config.backends)];
    throw usageError(`--target ${p.target}: no backend with that name in ${loaded.file ?? 'llmops.yaml'} (known: ${names.join(', ')}).`, {
      fix: 'Try this: add it under `backends:` in llmops.yaml, or --target local.',
    });
  }
  if (backend.type !== 'kubernetes') {
    throw new LlmopsError('USAGE', `--target ${p.target}: deploying to a ${backend.type} backend is not supported by this version of llmops.`, {
      fix: 'Try this: --target local on that machine, an ssh backend, or a kubernetes backend.',
    });
  }
  if (!isK8sName(p.name)) {
    throw usageError(`--name ${p.name}: Kubernetes names are lowercase letters, digits and '-', at most 63 characters.`, {fix: 'Try this: --name my-model'});
  }
  if (p.engine === 'vllm' && !p.hfModel) {
    throw usageError('--engine vllm needs --hf-model OWNER/NAME (the Hugging Face model vLLM serves).', {fix: 'Try this: --hf-model Qwen/Qwen2.5-7B-Instruct'});
  }
  if (p.hfModel && !/^[\w.-]+\/[\w.-]+$/.test(p.hfModel)) {
    throw usageError(`--hf-model ${p.hfModel}: expected OWNER/NAME.`, {fix: 'Try this: --hf-model Qwen/Qwen2.5-7B-Instruct'});
  }
  const manifests = renderManifests({
    name: p.name,
    namespace: backend.namespace,
    engine: p.engine,
    ...(p.hfModel ? {hfModel: p.hfModel} : {}),
    ...(p.modelClaim ? {modelClaim: p.modelClaim} : {}),
    ...(p.image ? {image: p.image} : {}),
    llmopsVersion: p.version,
    replicas: p.replicas,
    maxReplicas: p.maxReplicas,
    ...(backend.cpu ? {cpu: backend.cpu} : {}),
    ...(backend.memory ? {memory: backend.memory} : {}),
    gpus: p.engine === 'vllm' ? Math.max(1, backend.gpus) : 0,
    nodeSelector: backend.node_selector,
    tolerations: backend.tolerations,
    secretName: `${p.name}-secrets`,
  });
  const yaml = manifestsYaml(manifests);
  if (!p.dryRun) {
    throw new LlmopsError('USAGE', 'Applying manifests to a cluster is not done by llmops yet; --dry-run prints them for `kubectl apply -f -`.', {
      fix: `Try this: llmops deploy --target ${p.target} --dry-run | kubectl apply -f -`,
    });
  }
  return {target: p.target, engine: p.engine, dryRun: true, manifests, yaml};
}

/** The type of the backend a --target names, with a clear error for an unknown name. */
export function targetType(loaded: LoadedConfig, target: string): 'local' | 'ssh' | 'slurm' | 'kubernetes' | 'docker' {
  if (target === 'local' && !loaded.config.backends.local) return 'local';
  // The server image in a container on this machine (see docker-target.ts).
  if (target === 'docker' && !loaded.config.backends.docker) return 'docker';
  const backend = loaded.config.backends[target];
  if (!backend) {
    const names = ['local', ...Object.keys(loaded.config.backends)];
    throw usageError(`--target ${target}: no backend with that name in ${loaded.file ?? 'llmops.yaml'} (known: ${[...new Set(names)].join(', ')}).`, {
      fix: 'Try this: add it under `backends:` in llmops.yaml, or --target local.',
    });
  }
  return backend.type;
}

export async function stopOnBackend(loaded: LoadedConfig, ledger: Ledger, row: DeploymentRow, graceS = 15): Promise<StopResult> {
  if (row.target === 'local') throw notFoundError('not a backend deployment');
  if (row.target === 'docker') {
    const {stopDocker} = await import('./docker-target.js');
    return stopDocker(ledger, row, graceS);
  }
  const backend = loaded.config.backends[row.target];
  if (backend?.type === 'ssh') {
    const {stopSsh} = await import('./ssh-target.js');
    return stopSsh(loaded, ledger, row);
  }
  throw backendError(`Deployment ${row.name} runs on ${row.target}; stopping it there is not supported by this version of llmops.`, {
    fix: `Try this: stop it on ${row.target} directly.`,
  });
}

export {toInfo};
