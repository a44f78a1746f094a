/**
 * The sbatch script for a run. Options we depend on (output file, job name, parsable submit...)
 * are ours; user extras that would change them are refused with a clear message.
 */
import {ConfigError} from '../../errors.js';
import type {BackendConfig} from '../../config/schema.js';
import {shq} from '../../system/ssh.js';

type SlurmConfig = Extract<BackendConfig, {type: 'slurm'}>;

/** sbatch options llmops sets or relies on, and why a user may not override them. */
export const RESERVED_OPTIONS: Record<string, string> = {
  '--output': 'llmops writes the job output to RUN_DIR/logs/run.log and reads it from there',
  '-o': 'llmops writes the job output to RUN_DIR/logs/run.log and reads it from there',
  '--error': 'stderr goes to the run log with stdout',
  '-e': 'stderr goes to the run log with stdout',
  '--parsable': 'llmops submits with --parsable itself to read the job id',
  '--job-name': 'llmops names the job llmops-RUN_ID to find it again',
  '-J': 'llmops names the job llmops-RUN_ID to find it again',
  '--open-mode': 'a requeued job must append to its log',
  '--chdir': 'the run starts in the workdir so that trainer paths resolve',
  '-D': 'the run starts in the workdir so that trainer paths resolve',
  '--wrap': 'llmops submits a script, not a wrapped command',
  '--array': 'one run is one job',
  '-a': 'one run is one job',
  '--export': 'the job must inherit the environment llmops passes (events file, tokens)',
  '--nodes': 'set `nodes` in the backend instead',
  '-N': 'set `nodes` in the backend instead',
  '--partition': 'set `partition` in the backend instead',
  '-p': 'set `partition` in the backend instead',
  '--time': 'set `time` in the backend instead',
  '-t': 'set `time` in the backend instead',
  '--wait': 'llmops follows the job itself; sbatch must return at once',
  '-W': 'llmops follows the job itself; sbatch must return at once',
  '--test-only': 'the job would never run',
  '--hold': 'the job would never start',
  '-H': 'the job would never start',
};

/** Throws a ConfigError naming the first offending `sbatch_extra` entries. */
export function checkSbatchExtra(backendName: string, extra: string[], file = 'llmops.yaml'): void {
  const problems = [];
  for (const [i, raw] of extra.entries()) {
    const opt = raw.trim();
    const name = opt.startsWith('--') ? opt.split('=')[0]! : opt.slice(0, 2);
    if (!opt.startsWith('-')) {
      problems.push({file, path: `backends.${backendName}.sbatch_extra.${i}`, message: `"${raw}" is not an sbatch option`, expected: 'an option such as "--constraint=a100" or "--exclusive"'});
      continue;
    }
    const why = RESERVED_OPTIONS[name];
    if (why) {
      problems.push({file, path: `backends.${backendName}.sbatch_extra.${i}`, message: `${name} cannot be overridden: ${why}`, found: JSON.stringify(raw)});
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems, {fix: `Try this: remove those entries from backends.${backendName}.sbatch_extra (docs/backends.md lists the options llmops owns).`});
  }
}

export interface ScriptInput {
  runId: string;
  /** The job's working directory (the command's relative paths resolve here). */
  workdir: string;
  runDir: string;
  command: string[];
  env: Record<string, string>;
  /** The trainer's spec on the cluster: rewritten with resume_from after a requeue. */
  specFile?: string;
  python: string;
  /** rendezvous port for multi-node torchrun. */
  port?: number;
}

/** The job's output file, in the run's logs/ (not run.log: the supervisor writes that one). */
export const JOB_LOG = 'job.log';

/** What the job asks Slurm for (also sent with `sbatch --test-only` by check()). */
export function resourceOptions(cfg: SlurmConfig): string[] {
  const o = [`--nodes=${cfg.nodes}`, '--ntasks-per-node=1', `--time=${cfg.time}`];
  if (cfg.gpus_per_node > 0) o.push(`--gpus-per-node=${cfg.gpu_gres ? `${cfg.gpu_gres}:` : ''}${cfg.gpus_per_node}`);
  if (cfg.partition) o.push(`--partition=${cfg.partition}`);
  if (cfg.account) o.push(`--account=${cfg.account}`);
  if (cfg.qos) o.push(`--qos=${cfg.qos}`);
  if (cfg.cpus_per_task) o.push(`--cpus-per-task=${cfg.cpus_per_task}`);
  if (cfg.mem) o.push(`--mem=${cfg.mem}`);
  return [...o, ...cfg.sbatch_extra];
}

/**
 * Renders the batch script. Single GPU or CPU: the command as is. Several GPUs on one node:
 * torchrun --standalone. Several nodes: `srun torchrun --nnodes N --node_rank $SLURM_NODEID
 * --rdzv_endpoint FIRST_NODE:PORT`, one task per node, $SLURM_NODEID read on each node.
 */
export function renderSbatch(cfg: SlurmConfig, s: ScriptInput): string {
  const o: string[] = [
    `--job-name=llmops-${s.runId}`,
    `--output=${s.runDir}/logs/${JOB_LOG}`,
    '--open-mode=append',
    `--chdir=${s.workdir}`,
    // Preempted or failed nodes: requeue; the script resumes from the last checkpoint.
    '--requeue',
    // Before the time limit: SIGTERM to the script, which forwards it; the trainer checkpoints.
    '--signal=B:TERM@120',
    ...resourceOptions(cfg),
  ];

  const [program, ...args] = s.command;
  const isTrainer = s.specFile !== undefined;
  const nproc = Math.max(1, cfg.gpus_per_node);
  let launch: string;
  if (cfg.nodes > 1) {
    const port = s.port ?? 29500;
    const inner = isTrainer
      ? `exec ${shq(program!)} -m torch.distributed.run --nnodes="$SLURM_NNODES" --nproc_per_node=${nproc} --node_rank="$SLURM_NODEID" --rdzv_id="$SLURM_JOB_ID" --rdzv_backend=c10d --rdzv_endpoint="$MASTER_ADDR:$MASTER_PORT" ${args.map(shq).join(' ')}`
      : `exec ${s.command.map(shq).join(' ')}`;
    launch = [
      'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
      `MASTER_PORT=${port}`,
      'export MASTER_ADDR MASTER_PORT',
      `# torchrun (python -m torch.distributed.run) on every node; $SLURM_NODEID is read on each node.`,
      `srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c ${shq(inner)} &`,
    ].join('\n');
  } else if (isTrainer && nproc > 1) {
    launch = `${shq(program!)} -m torch.distributed.run --standalone --nproc_per_node=${nproc} ${args.map(shq).join(' ')} &`;
  } else {
    launch = `${s.command.map(shq).join(' ')} &`;
  }

  const resume = isTrainer
    ? [
        '# After a requeue (preemption, node failure) continue from the last checkpoint.',
        `if [ "\${SLURM_RESTART_COUNT:-0}" -gt 0 ] && [ -s "$R/checkpoints/latest" ]; then`,
        `  ${shq(s.python)} -c 'import json,sys; p=sys.argv[1]; s=json.load(open(p)); s["resume_from"]=sys.argv[2]; json.dump(s, open(p, "w"), indent=2)' ${shq(s.specFile!)} "$R/checkpoints"`,
        '  echo "[llmops] restart $SLURM_RESTART_COUNT: resuming from $(cat "$R/checkpoints/latest")"',
        'fi',
      ]
    : [];

  return [
    '#!/bin/bash',
    `# Written by llmops for run ${s.runId}.`,
    ...o.map((x) => `#SBATCH ${x}`),
    `R=${shq(s.runDir)}`,
    'mkdir -p "$R/logs"',
    ...Object.entries(s.env).map(([k, v]) => `export ${k}=${shq(v)}`),
    'echo "[llmops] job $SLURM_JOB_ID on $(hostname) restart ${SLURM_RESTART_COUNT:-0} gpus ${CUDA_VISIBLE_DEVICES:-none}"',
    ...resume,
    // The script outlives a SIGTERM (time limit, runs stop) long enough to pass it on and wait.
    'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
    launch,
    'child=$!',
    'rc=0',
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    'exit $rc',
    '',
  ].join('\n');
}
