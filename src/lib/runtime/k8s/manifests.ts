/**
 * Kubernetes manifests for a training run: a batch/v1 Job (an Indexed Job with a headless Service
 * for rendezvous when it spans several nodes), GPUs as `nvidia.com/gpu` limits.
 *
 * Inputs reach the pod without a registry or a shared volume: an init container waits until
 * llmops has copied the trainer, dataset and spec.json in (`kubectl cp`) and touched a marker; the
 * trainer container, once done, waits (keep_alive_s) for llmops to copy checkpoints/ and model/
 * out before the pod ends. With `pvc`, the workspace is that claim instead of an emptyDir.
 */
import type {BackendConfig} from '../../config/schema.js';
import {shq} from '../../system/ssh.js';

type K8sConfig = Extract<BackendConfig, {type: 'kubernetes'}>;
export type Manifest = Record<string, any>;

export const WORKSPACE = '/workspace';
export const INPUTS_READY = '.llmops-inputs-ready';
export const FETCHED = '.llmops-fetched';

/** A DNS-1123 name (lowercase, digits, '-', at most 63 characters) for a run's objects. */
export function jobName(runId: string): string {
  return `llmops-${runId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 52).replace(/-+$/, '');
}

export interface JobInput {
  runId: string;
  /** The run dir inside the pod (under WORKSPACE). */
  runDir: string;
  /** Command with paths as the pod sees them. */
  command: string[];
  env: Record<string, string>;
  /** Names of variables the Secret `<job>-env` holds (values never appear in manifests). */
  secretEnv: string[];
  isTrainer: boolean;
  rdzvPort?: number;
}

function trainerScript(cfg: K8sConfig, j: JobInput, name: string): string {
  const [program, ...args] = j.command;
  let run: string;
  if (cfg.nodes > 1 && j.isTrainer) {
    run = `${shq(program!)} -m torch.distributed.run --nnodes=${cfg.nodes} --nproc_per_node=${Math.max(1, cfg.gpus)} --node_rank="$JOB_COMPLETION_INDEX" --rdzv_id=${shq(name)} --rdzv_backend=c10d --rdzv_endpoint=${name}-0.${name}:${j.rdzvPort ?? 29500} ${args.map(shq).join(' ')}`;
  } else if (j.isTrainer && cfg.gpus > 1) {
    run = `${shq(program!)} -m torch.distributed.run --standalone --nproc_per_node=${cfg.gpus} ${args.map(shq).join(' ')}`;
  } else {
    run = j.command.map(shq).join(' ');
  }
  return [
    'set -u',
    `R=${shq(j.runDir)}`,
    'mkdir -p "$R/logs"',
    `${run} > >(tee -a "$R/logs/run.log") 2>&1 &`,
    'child=$!',
    'echo $child > "$R/pid"',
    'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
    'rc=0',
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    'echo "$rc" > "$R/exit_code"',
    // Wait for llmops to copy the artifacts out (an emptyDir dies with the pod).
    `i=0; while [ ! -f "$R/${FETCHED}" ] && [ $i -lt ${cfg.keep_alive_s} ]; do sleep 2; i=$((i+2)); done`,
    'exit $rc',
  ].join('\n');
}

export function renderJob(cfg: K8sConfig, j: JobInput): Manifest[] {
  const name = jobName(j.runId);
  const labels = {'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'llmops', 'llmops.dev/run-id': j.runId};
  const multi = cfg.nodes > 1;
  const resources: Manifest = {limits: {}, requests: {}};
  if (cfg.gpus > 0) resources.limits['nvidia.com/gpu'] = cfg.gpus;
  if (cfg.cpu) resources.requests.cpu = resources.limits.cpu = cfg.cpu;
  if (cfg.memory) resources.requests.memory = resources.limits.memory = cfg.memory;
  const volumeMounts = [{name: 'workspace', mountPath: WORKSPACE}, {name: 'shm', mountPath: '/dev/shm'}];
  const env: Manifest[] = Object.entries(j.env).map(([k, v]) => ({name: k, value: v}));
  const pod: Manifest = {
    metadata: {labels},
    spec: {
      restartPolicy: 'Never',
      ...(multi ? {subdomain: name} : {}),
      ...(Object.keys(cfg.node_selector).length > 0 ? {nodeSelector: cfg.node_selector} : {}),
      ...(cfg.tolerations.length > 0 ? {tolerations: cfg.tolerations} : {}),
      ...(cfg.service_account ? {serviceAccountName: cfg.service_account} : {}),
      initContainers: [
        {
          name: 'wait-inputs',
          image: cfg.image,
          command: ['sh', '-c', `until [ -f ${WORKSPACE}/${INPUTS_READY} ]; do sleep 1; done`],
          volumeMounts,
        },
      ],
      containers: [
        {
          name: 'trainer',
          image: cfg.image,
          workingDir: WORKSPACE,
          command: ['bash', '-c', trainerScript(cfg, j, name)],
          env,
          ...(j.secretEnv.length > 0 ? {envFrom: [{secretRef: {name: `${name}-env`, optional: true}}]} : {}),
          resources,
          volumeMounts,
        },
      ],
      volumes: [
        cfg.pvc ? {name: 'workspace', persistentVolumeClaim: {claimName: cfg.pvc}} : {name: 'workspace', emptyDir: {}},
        // NCCL and DataLoader workers need more shared memory than the 64 MiB default.
        {name: 'shm', emptyDir: {medium: 'Memory'}},
      ],
    },
  };
  const job: Manifest = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {name, namespace: cfg.namespace, labels},
    spec: {
      backoffLimit: 0,
      completions: cfg.nodes,
      parallelism: cfg.nodes,
      ...(multi ? {completionMode: 'Indexed'} : {}),
      ttlSecondsAfterFinished: 86_400,
      template: pod,
    },
  };
  if (!multi) return [job];
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {name, namespace: cfg.namespace, labels},
    spec: {clusterIP: 'None', selector: {'llmops.dev/run-id': j.runId}, ports: [{name: 'rdzv', port: j.rdzvPort ?? 29500}], publishNotReadyAddresses: true},
  };
  return [service, job];
}
