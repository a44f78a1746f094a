/**
 * Kubernetes manifests for runs. No cluster can run here (and `kubectl create --dry-run=client`
 * needs an API server for discovery), so the manifests are checked against the Kubernetes API
 * schema with kubernetes-models, and their shape with assertions; the live path is untested here.
 */
import {execFileSync} from 'node:child_process';
import path from 'node:path';
import {Job} from 'kubernetes-models/batch/v1';
import {Service} from 'kubernetes-models/v1';
import {parse, parseAllDocuments} from 'yaml';
import {describe, expect, it} from 'vitest';
import {parseConfigText, type LoadedConfig} from '../../src/lib/config/load.js';
import {KubernetesBackend} from '../../src/lib/runtime/backends/kubernetes.js';
import {jobName} from '../../src/lib/runtime/k8s/manifests.js';
import {makeProject, trainerRunSpec} from './helpers.js';

function backend(root: string, extra: Record<string, unknown> = {}): KubernetesBackend {
  const file = path.join(root, 'llmops.yaml');
  const config = parseConfigText(JSON.stringify({backends: {k8s: {type: 'kubernetes', namespace: 'ml', image: 'ghcr.io/acme/torch:2.5', gpus: 2, gpu_type: 'H100', ...extra}}}), file);
  const loaded: LoadedConfig = {config, root, file};
  return new KubernetesBackend('k8s', config.backends.k8s!, loaded);
}

describe('Kubernetes Job manifests (rendered; no cluster here, live path untested)', () => {
  const project = makeProject('llmops-k8s-');

  it('one node: a batch/v1 Job valid against the API schema, with GPU limits, selector, tolerations and the inputs delivered by an init container', async () => {
    process.env.LLMOPS_TEST_SECRET = 'do-not-render-me';
    const b = backend(project.root, {node_selector: {'cloud.google.com/gke-accelerator': 'nvidia-h100-80gb'}, tolerations: [{key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule'}], memory: '64Gi'});
    const spec = trainerRunSpec(project, 'r-20261126-101010-ab12');
    const out = await b.render(spec);
    delete process.env.LLMOPS_TEST_SECRET;
    const docs = parseAllDocuments(out['job.yaml']!).map((d) => d.toJS());
    expect(docs).toHaveLength(1);
    const job = docs[0];
    expect(() => new Job(job).validate()).not.toThrow();
    expect(job).toMatchObject({apiVersion: 'batch/v1', kind: 'Job', metadata: {name: 'llmops-r-20261126-101010-ab12', namespace: 'ml'}});
    expect(job.spec).toMatchObject({backoffLimit: 0, completions: 1, parallelism: 1});
    expect(job.spec.completionMode).toBeUndefined();
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.nodeSelector).toEqual({'cloud.google.com/gke-accelerator': 'nvidia-h100-80gb'});
    expect(pod.tolerations).toEqual([{key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule'}]);
    const c = pod.containers[0];
    expect(c.image).toBe('ghcr.io/acme/torch:2.5');
    expect(c.resources.limits).toEqual({'nvidia.com/gpu': 2, memory: '64Gi'});
    expect(pod.initContainers[0].command.join(' ')).toContain('.llmops-inputs-ready');
    expect(c.env).toContainEqual({name: 'LLMOPS_EVENTS', value: '/workspace/r-20261126-101010-ab12/events.jsonl'});
    // Two GPUs on one node: torchrun standalone, paths as the pod sees them.
    expect(c.command[2]).toContain('-m torch.distributed.run --standalone --nproc_per_node=2');
    expect(c.command[2]).toContain('/workspace/trainer/train.py --spec /workspace/r-20261126-101010-ab12/spec.json');
    execFileSync('bash', ['-n'], {input: c.command[2]});
    // Passed-through variables come from a Secret; their values are never in the manifest.
    expect(c.envFrom).toEqual([{secretRef: {name: 'llmops-r-20261126-101010-ab12-env', optional: true}}]);
    expect(out['job.yaml']).not.toContain('do-not-render-me');
    expect(parse(out['spec.json']!).dataset.dir).toBe(`/workspace/datasets/${project.datasetId}`);
    expect(out['copy.txt']).toContain(`${project.datasetDir} -> pod:/workspace/datasets/${project.datasetId}`);
  });

  it('several nodes: an Indexed Job and a headless Service; torchrun ranks from the completion index, rendezvous on pod 0', async () => {
    const b = backend(project.root, {nodes: 4, gpus: 8});
    const out = await b.render(trainerRunSpec(project, 'r-multi'));
    const [svc, job] = parseAllDocuments(out['job.yaml']!).map((d) => d.toJS());
    expect(() => new Service(svc).validate()).not.toThrow();
    expect(() => new Job(job).validate()).not.toThrow();
    expect(svc.spec.clusterIP).toBe('None');
    expect(job.spec).toMatchObject({completions: 4, parallelism: 4, completionMode: 'Indexed'});
    expect(job.spec.template.spec.subdomain).toBe(svc.metadata.name);
    const script = job.spec.template.spec.containers[0].command[2] as string;
    expect(script).toContain('--nnodes=4 --nproc_per_node=8 --node_rank="$JOB_COMPLETION_INDEX"');
    expect(script).toContain(`--rdzv_endpoint=${job.metadata.name}-0.${svc.metadata.name}:29500`);
    expect(job.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe(8);
  });

  it('object names are valid DNS-1123 labels whatever the run id', () => {
    for (const id of ['r-20261126-101010-ab12', 'R_WITH_CAPS.and.dots', 'x'.repeat(80)]) {
      const n = jobName(id);
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      // Pod names add "-<index>-<5 chars>": keep room under 63.
      expect(n.length).toBeLessThanOrEqual(52);
    }
  });
});
