/** `llmops deploy`, `deploy list`, `deploy stop`, `deploy logs` through the real CLI entry. */
import path from 'node:path';
import {writeFileSync} from 'node:fs';
import {Deployment} from 'kubernetes-models/apps/v1';
import {HorizontalPodAutoscaler} from 'kubernetes-models/autoscaling/v2';
import {Service} from 'kubernetes-models/v1';
import {parseAllDocuments} from 'yaml';
import {beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {isAlive} from '../../src/lib/system/process.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from './helpers/model.js';
import {sqlite} from '../helpers/sqlite.js';

let model: {modelDir: string; runDir: string; runId: string};
beforeAll(async () => {
  model = await tinyModel();
});

function project(): {dir: string; env: Record<string, string>} {
  const dir = tempDir();
  return {dir, env: {LLMOPS_DB: path.join(dir, 'ledger.db')}};
}

describe('deploy --detach, list, logs, stop', () => {
  it('serves a run by id in the background, lists it, shows its log, stops it and records everything', async () => {
    const {dir, env} = project();
    const ledger = Ledger.open(env.LLMOPS_DB!);
    ledger.insertRun({id: model.runId, kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: model.runDir, spec: {}});
    ledger.close();
    const up = await runCli(['deploy', '--model', model.runId, '--name', 'tiny', '--port', '0', '--detach', '--json'], {cwd: dir, env});
    expect(up.code, up.stderr).toBe(0);
    expect(up.json).toMatchObject({name: 'tiny', status: 'running', target: 'local', modelRunId: model.runId, modelDir: path.join(model.runDir, 'model')});
    expect(up.json.pid).toBeGreaterThan(0);
    try {
      const r = await fetch(up.json.url + '/v1/chat/completions', {method: 'POST', body: JSON.stringify({model: 'tiny', messages: [{role: 'user', content: 'hi'}], max_tokens: 3})});
      expect(r.status).toBe(200);
      // The run id is accepted as a model name too.
      const r2 = await fetch(up.json.url + '/v1/completions', {method: 'POST', body: JSON.stringify({model: model.runId, prompt: 'hi', max_tokens: 3})});
      expect(r2.status).toBe(200);

      const list = await runCli(['deploy', 'list', '--json'], {cwd: dir, env});
      expect(list.code).toBe(0);
      expect(list.json.deployments).toHaveLength(1);
      expect(list.json.deployments[0]).toMatchObject({id: up.json.id, status: 'running', url: up.json.url});
      const table = await runCli(['deploy', 'list'], {cwd: dir, env});
      expect(table.stdout).toMatch(/tiny\s+d-\S+\s+running\s+local\s+http:\/\/127\.0\.0\.1:\d+/);

      const dup = await runCli(['deploy', '--model', model.modelDir, '--name', 'tiny', '--port', '0', '--detach'], {cwd: dir, env});
      expect(dup.code).toBe(2);
      expect(dup.stderr).toContain('already running');

      const logs = await runCli(['deploy', 'logs', 'tiny'], {cwd: dir, env});
      expect(logs.code).toBe(0);
      expect(logs.stdout).toContain(`serving tiny at ${up.json.url}`);
    } finally {
      const stop = await runCli(['deploy', 'stop', 'tiny', '--json'], {cwd: dir, env});
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.json).toMatchObject({wasRunning: true, killed: false, deployment: {status: 'stopped'}});
    }
    expect(isAlive(up.json.pid)).toBe(false); // gone, or a zombie nobody reaps (PID 1 here does not)
    const again = await runCli(['deploy', 'stop', 'tiny', '--json'], {cwd: dir, env});
    expect(again.code).toBe(0);
    expect(again.json.wasRunning).toBe(false);

    const l2 = Ledger.open(env.LLMOPS_DB!);
    const row = l2.findDeployment('tiny')!;
    expect(row.stopped_at).not.toBeNull();
    expect(l2.listRequests(row.id).map((q) => q.endpoint)).toEqual(['chat', 'completions']);
    const costs = sqlite(l2).prepare('SELECT * FROM cost_entries WHERE deployment_id = ?').all(row.id) as any[];
    expect(costs.length).toBeGreaterThanOrEqual(1);
    expect(costs[0]).toMatchObject({stage: 'serve', phase: 'serve'});
    l2.close();
  });

  it('marks a detached server that died as failed in deploy list', async () => {
    const {dir, env} = project();
    const up = await runCli(['deploy', '--model', model.modelDir, '--name', 'doomed', '--port', '0', '--detach', '--json'], {cwd: dir, env});
    expect(up.code, up.stderr).toBe(0);
    process.kill(up.json.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const list = await runCli(['deploy', 'list', '--json'], {cwd: dir, env});
    expect(list.json.deployments[0]).toMatchObject({name: 'doomed', status: 'failed'});
  });
});

describe('deploy refusals', () => {
  it('refuses a non-loopback host without --api-key-env (exit 2, nothing recorded)', async () => {
    const {dir, env} = project();
    const r = await runCli(['deploy', '--model', model.modelDir, '--host', '0.0.0.0', '--port', '0'], {cwd: dir, env});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Refusing to listen on 0.0.0.0 without an API key');
    expect(r.stderr).toContain('Try this:');
    const list = await runCli(['deploy', 'list', '--json'], {cwd: dir, env});
    expect(list.json.deployments).toEqual([]);
  });

  it('refuses an --api-key-env whose variable is unset, without printing any key', async () => {
    const {dir, env} = project();
    const r = await runCli(['deploy', '--model', model.modelDir, '--api-key-env', 'NO_SUCH_VAR_X', '--json'], {cwd: dir, env});
    expect(r.code).toBe(2);
    expect(r.json.error.message).toContain('NO_SUCH_VAR_X');
  });

  it('names a model folder that is not an export, and an unknown run id', async () => {
    const {dir, env} = project();
    const notModel = tempDir();
    const r = await runCli(['deploy', '--model', notModel, '--json'], {cwd: dir, env});
    expect(r.code).toBe(4);
    expect(r.json.error.message).toContain('onnx/model.onnx');
    const r2 = await runCli(['deploy', '--model', 'r-nope-1234', '--json'], {cwd: dir, env});
    expect(r2.code).toBe(9);
    expect(r2.json.error.message).toContain('r-nope-1234');
  });

  it('stop, logs of an unknown deployment: exit 9 with a fix', async () => {
    const {dir, env} = project();
    for (const cmd of [['deploy', 'stop', 'ghost'], ['deploy', 'logs', 'ghost']]) {
      const r = await runCli(cmd, {cwd: dir, env});
      expect(r.code).toBe(9);
      expect(r.stderr).toContain('deploy list');
    }
  });
});

describe('Kubernetes manifests (--dry-run)', () => {
  function k8sProject(): {dir: string; env: Record<string, string>} {
    const p = project();
    writeFileSync(
      path.join(p.dir, 'llmops.yaml'),
      'backends:\n  k8s:\n    type: kubernetes\n    namespace: ml\n    gpus: 2\n    cpu: "2"\n    memory: 4Gi\n    node_selector: {pool: gpu}\n',
    );
    return p;
  }

  function checkSet(docs: any[], name: string) {
    expect(docs.map((d) => `${d.apiVersion}/${d.kind}`)).toEqual(['apps/v1/Deployment', 'v1/Service', 'autoscaling/v2/HorizontalPodAutoscaler']);
    const [dep, svc, hpa] = docs;
    // Schema-checked against the Kubernetes OpenAPI definitions (no cluster can run here).
    expect(() => new Deployment(dep).validate()).not.toThrow();
    expect(() => new Service(svc).validate()).not.toThrow();
    expect(() => new HorizontalPodAutoscaler(hpa).validate()).not.toThrow();
    for (const d of docs) expect(d.metadata).toMatchObject({name, namespace: 'ml'});
    // The selector must pick the pod template's labels, and the Service the same pods.
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) expect(dep.spec.template.metadata.labels[k]).toBe(v);
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    const c = dep.spec.template.spec.containers[0];
    expect(c.ports.map((p: any) => p.name)).toContain(svc.spec.ports[0].targetPort);
    expect(c.readinessProbe.httpGet.path).toBe('/health');
    expect(hpa.spec.scaleTargetRef).toEqual({apiVersion: 'apps/v1', kind: 'Deployment', name});
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    // No secret values in manifests: keys come from a Secret.
    expect(JSON.stringify(docs)).not.toMatch(/hf_[A-Za-z0-9]{10}/);
    expect(c.env.find((e: any) => e.name === 'LLMOPS_API_KEY').valueFrom.secretKeyRef.name).toBe(`${name}-secrets`);
    return c;
  }

  it('renders Deployment, Service and HPA for our server', async () => {
    const {dir, env} = k8sProject();
    const r = await runCli(['deploy', '--target', 'k8s', '--name', 'tiny-api', '--dry-run'], {cwd: dir, env});
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    const c = checkSet(docs, 'tiny-api');
    expect(c.args).toEqual(expect.arrayContaining(['deploy', '--host', '0.0.0.0', '--api-key-env', 'LLMOPS_API_KEY']));
    // The server image by tag (its entrypoint is llmops), not npx fetching a package at start-up.
    expect(c.image).toMatch(/^llmops-server:\d+\.\d+\.\d+/);
    expect(c.command).toBeUndefined();
    expect(JSON.stringify(c)).not.toContain('npx');
    const tagged = await runCli(['deploy', '--target', 'k8s', '--name', 'tiny-api', '--image', 'registry.example.com/llm/chat:7', '--dry-run', '--json'], {cwd: dir, env});
    expect(tagged.json.manifests[0].spec.template.spec.containers[0].image).toBe('registry.example.com/llm/chat:7');
    expect(docs[0].spec.template.spec.nodeSelector).toEqual({pool: 'gpu'});
    expect(docs[2].spec.metrics[0].resource.name).toBe('cpu');
    expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
  });

  it('renders vLLM serving a Hugging Face model with --engine vllm', async () => {
    const {dir, env} = k8sProject();
    const r = await runCli(['deploy', '--target', 'k8s', '--name', 'qwen', '--engine', 'vllm', '--hf-model', 'Qwen/Qwen2.5-7B-Instruct', '--dry-run', '--json'], {cwd: dir, env});
    expect(r.code, r.stderr).toBe(0);
    const c = checkSet(r.json.manifests, 'qwen');
    expect(c.image).toMatch(/^vllm\/vllm-openai/);
    expect(c.args.slice(0, 2)).toEqual(['--model', 'Qwen/Qwen2.5-7B-Instruct']);
    expect(c.resources.limits['nvidia.com/gpu']).toBe(2);
  });

  it('refuses --engine vllm without --hf-model, a bad name, and an unknown target', async () => {
    const {dir, env} = k8sProject();
    const a = await runCli(['deploy', '--target', 'k8s', '--engine', 'vllm', '--dry-run'], {cwd: dir, env});
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--hf-model');
    const b = await runCli(['deploy', '--target', 'k8s', '--name', 'Bad_Name', '--dry-run'], {cwd: dir, env});
    expect(b.code).toBe(2);
    const c = await runCli(['deploy', '--target', 'nowhere', '--dry-run'], {cwd: dir, env});
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('known: local, k8s');
  });
});
