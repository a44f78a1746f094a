import {Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {DeployResult} from '../../lib/serve/deploy.js';

export interface DeployRenderResult {
  target: string;
  engine: 'llmops' | 'vllm';
  dryRun: true;
  manifests: Array<Record<string, unknown>>;
  yaml: string;
}

export default class Deploy extends BaseCommand<typeof Deploy> {
  static summary = 'Serve an exported model behind an OpenAI-compatible API.';
  static description = `Attached by default: the server runs in this terminal until Ctrl-C, and every request is recorded in the ledger. --detach leaves it running in the background (see \`llmops deploy list\`, \`stop\`, \`logs\`).

Binds 127.0.0.1 unless --host says otherwise; any other address needs --api-key-env. --target docker runs the server image (\`llmops image build\`) as a container with the model mounted read-only and the port published on --host; requests are recorded in this project's ledger as for a local server. A Kubernetes backend as --target renders a Deployment, Service and HorizontalPodAutoscaler (--dry-run prints them) that run the server image.

--json result: {id, name, status, target, url, host, port, pid, modelDir, modelRunId, logPath, createdAt, startedAt, stoppedAt, requests, uptimeS}; with --dry-run: {target, engine, dryRun, manifests, yaml}.`;

  static examples = [
    '<%= config.bin %> deploy --model r-20261126-abc123',
    '<%= config.bin %> deploy --model chat@prod --detach',
    '<%= config.bin %> deploy --model .llmops/runs/r-20261126-abc123/model --port 8080 --detach',
    'LLMOPS_API_KEY=$(openssl rand -hex 24) <%= config.bin %> deploy --host 0.0.0.0 --api-key-env LLMOPS_API_KEY',
    '<%= config.bin %> deploy --target docker --model r-20261126-abc123 --port 0',
    '<%= config.bin %> deploy --target k8s --image registry.example.com/llmops-server:0.1.0 --dry-run',
    '<%= config.bin %> deploy --target k8s --engine vllm --hf-model Qwen/Qwen2.5-7B-Instruct --dry-run',
  ];

  static flags = {
    model: Flags.string({char: 'm', summary: 'RUN_ID (its exported model), a model folder, or NAME@ALIAS / NAME@vN of the registry; default: the newest run with a model.'}),
    name: Flags.string({char: 'n', summary: 'Deployment name (also the `model` clients ask for).', default: 'default'}),
    target: Flags.string({summary: '"local", "docker" (the server image in a container), or the name of a backend in llmops.yaml (kubernetes: manifests).', default: 'local'}),
    host: Flags.string({summary: 'Address to bind (default deploy.host, 127.0.0.1).'}),
    port: Flags.integer({char: 'p', summary: 'Port (default deploy.port, 8000; 0 = any free port).', min: 0, max: 65535}),
    'api-key-env': Flags.string({summary: 'Environment variable holding the API key clients must send (required off loopback).'}),
    detach: Flags.boolean({char: 'd', summary: 'Run in the background and return once healthy.'}),
    'dry-run': Flags.boolean({summary: 'Kubernetes targets: print the manifests instead of applying them.'}),
    engine: Flags.string({summary: 'Kubernetes: our server (llmops) or vLLM for Hugging Face models.', options: ['llmops', 'vllm'], default: 'llmops'}),
    'hf-model': Flags.string({summary: 'With --engine vllm: the Hugging Face model id (OWNER/NAME).'}),
    'model-claim': Flags.string({summary: 'Kubernetes: PersistentVolumeClaim holding the exported model folder.'}),
    replicas: Flags.integer({summary: 'Kubernetes: minimum replicas.', default: 1, min: 1}),
    'max-replicas': Flags.integer({summary: 'Kubernetes: maximum replicas for the autoscaler.', default: 4, min: 1}),
    image: Flags.string({summary: 'docker and Kubernetes: the server image (default: the newest `llmops image build`, else llmops-server:VERSION; vllm/vllm-openai for --engine vllm).'}),
    dtype: Flags.string({summary: 'ONNX graph variant to serve: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4 (default: the best the folder has for a CPU).'}),
    mode: Flags.string({summary: 'How concurrent requests share the model.', options: ['batch', 'interleave'], hidden: true}),
    'deployment-id': Flags.string({summary: 'Internal: the ledger record a detached server runs for.', hidden: true}),
    'published-on': Flags.string({summary: 'Internal: in a container, the host address its port is published on.', hidden: true}),
  };

  async run(): Promise<DeployResult | DeployRenderResult> {
    const loaded = await this.projectConfig();
    const f = this.flags;
    const {targetType} = await import('../../lib/serve/targets.js');
    const type = targetType(loaded, f.target);
    if (type === 'ssh') {
      const ledger = await this.ledger();
      const {deploySshFromFlags} = await import('../../lib/serve/deploy.js');
      const r = await deploySshFromFlags(
        {target: f.target, name: f.name, ...(f.model ? {model: f.model} : {}), ...(f.port === undefined ? {} : {port: f.port}), ...(f['api-key-env'] ? {apiKeyEnv: f['api-key-env']} : {}), progress: (m) => process.stderr.write(m + '\n')},
        loaded,
        ledger,
      );
      if (!this.jsonEnabled()) this.log(`${r.name} is running on ${r.target} (${r.host}, remote port ${r.port}, pid ${r.pid}; id ${r.id}).`);
      return r;
    }
    if (type === 'docker') {
      const ledger = await this.ledger();
      const {deployDocker} = await import('../../lib/serve/docker-target.js');
      const r = await deployDocker(
        {
          name: f.name,
          ...(f.model ? {model: f.model} : {}),
          ...(f.image ? {image: f.image} : {}),
          ...(f.host ? {host: f.host} : {}),
          ...(f.port === undefined ? {} : {port: f.port}),
          ...(f['api-key-env'] ? {apiKeyEnv: f['api-key-env']} : {}),
          version: this.config.version,
          progress: (m) => process.stderr.write(m + '\n'),
        },
        loaded,
        ledger,
      );
      if (!this.jsonEnabled()) this.log(`${r.name} is running at ${r.url} (id ${r.id}, container llmops-${r.id}).`);
      return r;
    }
    if (type !== 'local') {
      const {deployToBackend} = await import('../../lib/serve/targets.js');
      const r = await deployToBackend(loaded, {
        target: f.target,
        name: f.name,
        engine: f.engine as 'llmops' | 'vllm',
        dryRun: f['dry-run'],
        hfModel: f['hf-model'],
        modelClaim: f['model-claim'],
        replicas: f.replicas,
        maxReplicas: f['max-replicas'],
        image: f.image,
        version: this.config.version,
      });
      if (!this.jsonEnabled()) process.stdout.write(r.yaml);
      return r;
    }
    const ledger = await this.ledger();
    const {deployLocal} = await import('../../lib/serve/deploy.js');
    const result = await deployLocal(
      {
        ...(f.model ? {model: f.model} : {}),
        name: f.name,
        ...(f.host ? {host: f.host} : {}),
        ...(f.port === undefined ? {} : {port: f.port}),
        ...(f['api-key-env'] ? {apiKeyEnv: f['api-key-env']} : {}),
        detach: f.detach,
        ...(f['deployment-id'] ? {deploymentId: f['deployment-id']} : {}),
        ...(f.mode ? {mode: f.mode as 'batch' | 'interleave'} : {}),
        ...(f.dtype ? {dtype: f.dtype} : {}),
        ...(f['published-on'] ? {publishedOn: f['published-on']} : {}),
        bin: process.argv[1]!,
        ...(f.config ? {configFlag: f.config} : {}),
        progress: (m) => process.stderr.write(m + '\n'),
      },
      loaded,
      ledger,
    );
    if (!this.jsonEnabled()) {
      this.log(
        result.status === 'running'
          ? `${result.name} is running at ${result.url} (id ${result.id}, pid ${result.pid}).`
          : `${result.name} stopped after ${result.uptimeS?.toFixed(0)} s; ${result.requests} requests recorded (id ${result.id}).`,
      );
    }
    return result;
  }
}
