/**
 * Kubernetes manifests for a deployment: Deployment + Service + HorizontalPodAutoscaler, for our
 * server (CPU, onnxruntime) or, with engine "vllm", for vLLM serving a Hugging Face model on GPUs.
 */
import {stringify} from 'yaml';

export interface K8sRenderOptions {
  name: string;
  namespace: string;
  engine: 'llmops' | 'vllm';
  /** llmops: where the exported model folder is mounted from (a PersistentVolumeClaim). */
  modelClaim?: string;
  /** vllm: the Hugging Face model id (OWNER/NAME). */
  hfModel?: string;
  image?: string;
  llmopsVersion: string;
  replicas: number;
  maxReplicas: number;
  cpu?: string;
  memory?: string;
  gpus: number;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<Record<string, unknown>>;
  /** Secret holding the API key (key "api-key"); HF_TOKEN for vLLM is read from key "hf-token". */
  secretName: string;
}

export type Manifest = Record<string, any>;

const PORT = 8000;

export function renderManifests(o: K8sRenderOptions): Manifest[] {
  const labels = {'app.kubernetes.io/name': o.name, 'app.kubernetes.io/managed-by': 'llmops', 'llmops.dev/engine': o.engine};
  const selector = {'app.kubernetes.io/name': o.name};
  const probe = (initialDelaySeconds: number) => ({httpGet: {path: '/health', port: PORT}, initialDelaySeconds, periodSeconds: 10, failureThreshold: 6});
  const resources: Manifest = {requests: {}, limits: {}};
  if (o.cpu) resources.requests.cpu = resources.limits.cpu = o.cpu;
  if (o.memory) resources.requests.memory = resources.limits.memory = o.memory;
  if (o.gpus > 0) resources.requests['nvidia.com/gpu'] = resources.limits['nvidia.com/gpu'] = o.gpus;
  // HPA on CPU needs a CPU request to compute utilisation against.
  if (o.engine === 'llmops' && !resources.requests.cpu) resources.requests.cpu = '1';
  const apiKeyEnv = {name: 'LLMOPS_API_KEY', valueFrom: {secretKeyRef: {name: o.secretName, key: 'api-key'}}};
  let container: Manifest;
  const volumes: Manifest[] = [];
  if (o.engine === 'vllm') {
    if (!o.hfModel) throw new Error('hfModel is required for engine vllm');
    container = {
      name: 'vllm',
      image: o.image ?? 'vllm/vllm-openai:latest',
      args: ['--model', o.hfModel, '--served-model-name', o.name, '--host', '0.0.0.0', '--port', String(PORT), '--api-key', '$(LLMOPS_API_KEY)'],
      env: [apiKeyEnv, {name: 'HF_TOKEN', valueFrom: {secretKeyRef: {name: o.secretName, key: 'hf-token', optional: true}}}],
      ports: [{name: 'http', containerPort: PORT}],
      readinessProbe: probe(30),
      livenessProbe: probe(120),
      resources,
      volumeMounts: [{name: 'shm', mountPath: '/dev/shm'}],
    };
    // vLLM's tensor-parallel workers share memory through /dev/shm.
    volumes.push({name: 'shm', emptyDir: {medium: 'Memory', sizeLimit: '2Gi'}});
  } else {
    // The server image (`llmops image build --target server`, pushed where the cluster pulls from):
    // its entrypoint is llmops, so only the arguments are given here.
    container = {
      name: 'llmops',
      image: o.image ?? `llmops-server:${o.llmopsVersion}`,
      args: ['deploy', '--model', '/models', '--name', o.name, '--host', '0.0.0.0', '--port', String(PORT), '--api-key-env', 'LLMOPS_API_KEY'],
      env: [apiKeyEnv, {name: 'LLMOPS_DB', value: '/tmp/llmops.db'}],
      ports: [{name: 'http', containerPort: PORT}],
      readinessProbe: probe(5),
      livenessProbe: probe(60),
      resources,
      volumeMounts: [{name: 'model', mountPath: '/models', readOnly: true}],
    };
    volumes.push({name: 'model', persistentVolumeClaim: {claimName: o.modelClaim ?? `${o.name}-model`, readOnly: true}});
  }
  const meta = {name: o.name, namespace: o.namespace, labels};
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta,
    spec: {
      replicas: o.replicas,
      selector: {matchLabels: selector},
      template: {
        metadata: {labels, annotations: {'prometheus.io/scrape': 'true', 'prometheus.io/port': String(PORT), 'prometheus.io/path': '/metrics'}},
        spec: {
          containers: [container],
          volumes,
          ...(o.nodeSelector && Object.keys(o.nodeSelector).length > 0 ? {nodeSelector: o.nodeSelector} : {}),
          ...(o.tolerations && o.tolerations.length > 0 ? {tolerations: o.tolerations} : {}),
        },
      },
    },
  };
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta,
    spec: {type: 'ClusterIP', selector, ports: [{name: 'http', port: 80, targetPort: 'http', protocol: 'TCP'}]},
  };
  const metrics =
    o.engine === 'vllm'
      ? // GPU pods are not CPU-bound: scale on the queue, exported by a Prometheus adapter.
        [{type: 'Pods', pods: {metric: {name: 'vllm_num_requests_waiting'}, target: {type: 'AverageValue', averageValue: '5'}}}]
      : [{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 70}}}];
  const hpa: Manifest = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta,
    spec: {
      scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: o.name},
      minReplicas: o.replicas,
      maxReplicas: Math.max(o.replicas, o.maxReplicas),
      metrics,
    },
  };
  return [deployment, service, hpa];
}

export function manifestsYaml(ms: Manifest[]): string {
  return ms.map((m) => stringify(m)).join('---\n');
}

/** RFC 1123 label: what Kubernetes accepts as a Deployment/Service name. */
export function isK8sName(name: string): boolean {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 63;
}
