/**
 * The Kubernetes backend: a run is a batch/v1 Job (Indexed, with a headless Service, across
 * several nodes), driven entirely through `kubectl` so the user's kubeconfig, contexts and auth
 * plugins apply. No cluster can run on the machine this was written on: the manifests are tested,
 * the live path (apply, cp, exec, delete) is not (docs/backends.md says so).
 */
import path from 'node:path';
import {stringify} from 'yaml';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {priceBackend} from '../../cost/prices.js';
import {backendError, environmentError, usageError} from '../../errors.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {capture, captureBytes, type CaptureResult} from '../../system/exec.js';
import {sleep} from '../../util/time.js';
import {FETCHED, INPUTS_READY, WORKSPACE, jobName, renderJob, type Manifest} from '../k8s/manifests.js';
import {planRemoteRun, wholeLines, wholeText, localizeLine} from '../remote-run.js';

type K8sConfig = Extract<BackendConfig, {type: 'kubernetes'}>;

export interface K8sState extends Record<string, unknown> {
  job: string;
  namespace: string;
  podRunDir: string;
  localRunDir: string;
}

const MAX_READ = 4 * 1024 * 1024;

export class KubernetesBackend implements Backend {
  readonly type = 'kubernetes' as const;
  private readonly cfg: K8sConfig;

  constructor(
    readonly name: string,
    config: BackendConfig,
    private readonly loaded: LoadedConfig,
  ) {
    if (config.type !== 'kubernetes') throw usageError(`Backend "${name}" is not a kubernetes backend.`);
    this.cfg = config;
  }

  private kubectlArgs(args: string[]): string[] {
    return [...(this.cfg.context ? ['--context', this.cfg.context] : []), '--namespace', this.cfg.namespace, ...args];
  }

  private async kubectl(args: string[], what: string, opts: {input?: string; allowFail?: boolean; timeoutMs?: number} = {}): Promise<CaptureResult> {
    const r = await capture('kubectl', this.kubectlArgs(args), {input: opts.input ?? '', timeoutMs: opts.timeoutMs ?? 120_000});
    if (r.missing) throw environmentError('kubectl was not found.', {fix: 'Try this: install kubectl and check `kubectl config current-context`.'});
    if (!r.ok && !opts.allowFail) {
      throw backendError(`kubectl failed to ${what}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${r.exitCode}`}`, {
        fix: `Try this: check \`kubectl ${this.cfg.context ? `--context ${this.cfg.context} ` : ''}-n ${this.cfg.namespace} get jobs\` works from this machine.`,
      });
    }
    return r;
  }

  async check(): Promise<void> {
    await this.kubectl(['auth', 'can-i', 'create', 'jobs'], 'reach the cluster', {timeoutMs: 30_000});
  }

  /** The run as the pod sees it, and its manifests. */
  manifests(spec: RunSpec): {manifests: Manifest[]; plan: ReturnType<typeof planRemoteRun>; job: string} {
    const plan = planRemoteRun(spec, WORKSPACE, {python: this.cfg.python, localPython: this.loaded.config.python});
    const manifests = renderJob(this.cfg, {
      runId: spec.runId,
      runDir: plan.runDir,
      command: plan.command,
      env: plan.env,
      secretEnv: spec.passEnv,
      isTrainer: spec.trainerSpec !== undefined,
      rdzvPort: this.cfg.rdzv_port,
    });
    return {manifests, plan, job: jobName(spec.runId)};
  }

  async render(spec: RunSpec): Promise<Record<string, string>> {
    const {manifests, plan} = this.manifests(spec);
    const out: Record<string, string> = {'job.yaml': manifests.map((m) => stringify(m)).join('---\n')};
    if (plan.spec) out['spec.json'] = JSON.stringify(plan.spec, null, 2) + '\n';
    out['copy.txt'] = plan.syncs.map((s) => `${s.local} -> pod:${s.remote}`).join('\n') + '\n';
    return out;
  }

  private async pods(job: string): Promise<string[]> {
    const r = await this.kubectl(['get', 'pods', '-l', `job-name=${job}`, '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'], 'list the pods');
    return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean).sort();
  }

  async submit(spec: RunSpec): Promise<BackendHandle> {
    const {manifests, plan, job} = this.manifests(spec);
    const secretVars = spec.passEnv.filter((n) => process.env[n] !== undefined);
    if (secretVars.length > 0) {
      // Values travel on stdin into a Secret; they never appear in a manifest or an argument.
      const envFile = secretVars.map((n) => `${n}=${process.env[n]}`).join('\n') + '\n';
      const secret = await this.kubectl(['create', 'secret', 'generic', `${job}-env`, '--from-env-file=/dev/stdin', '--dry-run=client', '-o', 'yaml'], 'prepare the env Secret', {input: envFile});
      await this.kubectl(['apply', '-f', '-'], 'create the env Secret', {input: secret.stdout});
    }
    await this.kubectl(['apply', '-f', '-'], 'create the Job', {input: manifests.map((m) => stringify(m)).join('---\n')});
    // Each pod gets its own copy of the inputs (an emptyDir is per pod).
    const {mkdtempSync, writeFileSync, rmSync} = await import('node:fs');
    const os = await import('node:os');
    const stage = mkdtempSync(path.join(os.tmpdir(), 'llmops-k8s-'));
    try {
      if (plan.spec) writeFileSync(path.join(stage, 'spec.json'), JSON.stringify(plan.spec, null, 2) + '\n');
      const deadline = Date.now() + 15 * 60_000;
      let pods: string[] = [];
      while (pods.length < this.cfg.nodes) {
        if (Date.now() > deadline) throw backendError(`The pods of Job ${job} did not appear within 15 minutes.`, {fix: `Try this: kubectl -n ${this.cfg.namespace} describe job ${job}`});
        pods = await this.pods(job);
        if (pods.length < this.cfg.nodes) await sleep(2000);
      }
      for (const pod of pods) {
        await this.waitInit(pod, deadline);
        const target = (p: string) => `${this.cfg.namespace}/${pod}:${p}`;
        await this.kubectl(['exec', pod, '-c', 'wait-inputs', '--', 'mkdir', '-p', plan.runDir, ...new Set(plan.syncs.map((s) => path.posix.dirname(s.remote)))], 'prepare the pod workspace');
        for (const s of plan.syncs) await this.kubectl(['cp', '-c', 'wait-inputs', s.local, target(s.remote)], `copy ${s.kind} into ${pod}`, {timeoutMs: 30 * 60_000});
        if (plan.spec) await this.kubectl(['cp', '-c', 'wait-inputs', path.join(stage, 'spec.json'), target(path.posix.join(plan.runDir, 'spec.json'))], 'copy spec.json');
        await this.kubectl(['exec', pod, '-c', 'wait-inputs', '--', 'touch', `${WORKSPACE}/${INPUTS_READY}`], 'release the pod');
      }
    } finally {
      rmSync(stage, {recursive: true, force: true});
    }
    const state: K8sState = {job, namespace: this.cfg.namespace, podRunDir: plan.runDir, localRunDir: path.resolve(spec.runDir)};
    return {ref: `k8s:${this.cfg.namespace}/${job}`, state};
  }

  private async waitInit(pod: string, deadline: number): Promise<void> {
    for (;;) {
      const r = await this.kubectl(['get', 'pod', pod, '-o', 'jsonpath={.status.initContainerStatuses[0].state.running.startedAt}'], 'read the pod state', {allowFail: true});
      if (r.ok && r.stdout.trim()) return;
      if (Date.now() > deadline) throw backendError(`Pod ${pod} did not start (image pull, GPUs, quota?).`, {fix: `Try this: kubectl -n ${this.cfg.namespace} describe pod ${pod}`});
      await sleep(2000);
    }
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const s = handle.state as K8sState;
    const r = await this.kubectl(['get', 'job', s.job, '-o', 'json'], 'read the Job', {allowFail: true});
    if (!r.ok) {
      if (/NotFound/i.test(r.stderr)) return {state: 'exited', exitCode: null, signal: null, detail: `Job ${s.job} no longer exists`};
      return {state: 'unknown', detail: r.stderr.trim().split('\n').pop()};
    }
    const job = JSON.parse(r.stdout) as Manifest;
    const st = job.status ?? {};
    const failed = (st.conditions ?? []).find((c: Manifest) => c.type === 'Failed' && c.status === 'True');
    // The trainer container writes exit_code and then waits for us to fetch: that is "exited" for us.
    const pods = await this.pods(s.job).catch(() => [] as string[]);
    if (pods[0]) {
      const e = await this.kubectl(['exec', pods[0], '-c', 'trainer', '--', 'cat', path.posix.join(s.podRunDir, 'exit_code')], 'read the exit code', {allowFail: true});
      if (e.ok && e.stdout.trim() !== '') return {state: 'exited', exitCode: Number(e.stdout.trim()), signal: null, detail: 'Kubernetes Job: trainer finished'};
    }
    if (failed) return {state: 'exited', exitCode: null, signal: null, detail: `Kubernetes Job failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim()};
    if ((st.succeeded ?? 0) >= this.cfg.nodes) return {state: 'exited', exitCode: 0, signal: null, detail: 'Kubernetes Job complete'};
    if ((st.active ?? 0) > 0 && st.ready) return {state: 'running'};
    return {state: (st.active ?? 0) > 0 ? 'starting' : 'queued', detail: 'pods pending or initialising'};
  }

  private async readPodFile(s: K8sState, file: string, offset: number): Promise<Buffer> {
    const pods = await this.pods(s.job);
    if (!pods[0]) return Buffer.alloc(0);
    const r = await captureBytes('kubectl', this.kubectlArgs(['exec', pods[0], '-c', 'trainer', '--', 'sh', '-c', `[ -f '${file}' ] && tail -c +${offset + 1} '${file}' | head -c ${MAX_READ}; true`]), {
      timeoutMs: 60_000,
    });
    return r.ok ? r.stdout : Buffer.alloc(0);
  }

  async readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}> {
    const s = handle.state as K8sState;
    const got = wholeLines(await this.readPodFile(s, path.posix.join(s.podRunDir, 'events.jsonl'), offset), offset, MAX_READ);
    return {lines: got.lines.map((l) => localizeLine(l, s.podRunDir, s.localRunDir)), offset: got.offset};
  }

  async readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}> {
    const s = handle.state as K8sState;
    return wholeText(await this.readPodFile(s, path.posix.join(s.podRunDir, 'logs', 'run.log'), offset), offset);
  }

  async stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void> {
    const s = handle.state as K8sState;
    if (opts.graceful) {
      const pods = await this.pods(s.job);
      for (const pod of pods) {
        await this.kubectl(['exec', pod, '-c', 'trainer', '--', 'sh', '-c', `kill -TERM $(cat '${s.podRunDir}/pid')`], 'signal the trainer', {allowFail: true});
      }
      return;
    }
    await this.kubectl(['delete', 'job', s.job, '--ignore-not-found', '--wait=false'], 'delete the Job');
  }

  async fetchArtifacts(handle: BackendHandle, spec: RunSpec): Promise<void> {
    const s = handle.state as K8sState;
    const pods = await this.pods(s.job);
    if (!pods[0]) return;
    for (const dir of ['checkpoints', 'model']) {
      await this.kubectl(['cp', '-c', 'trainer', `${s.namespace}/${pods[0]}:${path.posix.join(s.podRunDir, dir)}`, path.join(spec.runDir, dir)], `copy ${dir} out`, {allowFail: true, timeoutMs: 30 * 60_000});
    }
    for (const pod of pods) await this.kubectl(['exec', pod, '-c', 'trainer', '--', 'touch', path.posix.join(s.podRunDir, FETCHED)], 'release the pod', {allowFail: true});
  }

  pricing(): Pricing {
    return priceBackend(this.cfg, this.loaded.config.pricing);
  }
}

export default KubernetesBackend;
