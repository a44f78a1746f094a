/**
 * `llmops train --backend <slurm>` through the real CLI against the one-node Slurm cluster of
 * .ci/services/start.sh (one fake GPU from gres), with the real trainer.
 */
import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {PYTHON, runCli} from '../helpers/cli.js';
import {makeProject, waitFinal, waitFor, withLedger} from '../runtime/helpers.js';
import {services, slurmUnavailable} from './helpers.js';
import {sqlite} from '../helpers/sqlite.js';

const skip = slurmUnavailable();
const d = skip ? describe.skip : describe;

function project() {
  const s = services().slurm;
  const cluster = {type: 'slurm', python: PYTHON, partition: s.partition, gpus_per_node: 1, gpu_gres: s.gpu_type, gpu_type: 'A100-80GB', time: '00:10:00'};
  const big = {...cluster, gpus_per_node: s.gpus + 2};
  const multi = {...cluster, nodes: 2, gpus_per_node: 8};
  return makeProject({yaml: `backends:\n  cluster: ${JSON.stringify(cluster)}\n  big: ${JSON.stringify(big)}\n  multi: ${JSON.stringify(multi)}\n`});
}

const metricCount = (dbFile: string, id: string) =>
  withLedger(dbFile, (l) => (sqlite(l).prepare("SELECT count(*) AS n FROM metrics WHERE run_id = ? AND key = 'loss'").get(id) as {n: number}).n);

d(`llmops train --backend slurm (real CLI, real one-node cluster${skip ? `; skipped: ${skip}` : ''})`, () => {
  it('trains the tiny preset (micro overrides) on one fake GPU to succeeded, with metrics, the model and GPU pricing', async () => {
    const p = project();
    const r = await runCli(['train', '--backend', 'cluster', '--max-steps', '20', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({status: 'succeeded', backend: 'cluster'});
    const run = withLedger(p.dbFile, (l) => l.getRun(r.json.id));
    expect(run.backend_ref).toMatch(/^slurm:\d+$/);
    expect(metricCount(p.dbFile, run.id)).toBeGreaterThan(5);
    expect(existsSync(path.join(run.run_dir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    // Priced as one A100-80GB from the built-in table; queue time kept apart from run time.
    expect(r.json.pricePerHour).toBeGreaterThan(0);
    const cost = withLedger(p.dbFile, (l) => l.runCost(run.id));
    // (How the billed time splits between setup and run depends on when the 2 s polls fall.)
    expect(cost.usd).toBeGreaterThan(0);
    expect(cost.byPhase.queue?.usd ?? 0).toBe(0);
  });

  it('a job cancelled from outside with scancel is recorded with reason CANCELLED', async () => {
    const p = project();
    const start = await runCli(['train', '--backend', 'cluster', '--max-steps', '100000', '--detach', '--json'], {cwd: p.dir});
    expect(start.code, start.stderr).toBe(0);
    const id = start.json.id as string;
    await waitFor('the first metrics', () => metricCount(p.dbFile, id) > 0, 90_000);
    const jobId = withLedger(p.dbFile, (l) => l.getRun(id).backend_ref!.replace('slurm:', ''));
    execFileSync('scancel', [jobId]);
    const run = await waitFinal(p.dbFile, id, 90_000);
    expect(['stopped', 'failed']).toContain(run.status);
    expect(run.reason).toContain('CANCELLED');
  });

  it('a GPU request Slurm cannot satisfy fails at once with Slurm\'s message and exit 11 (BACKEND)', async () => {
    const p = project();
    const r = await runCli(['train', '--backend', 'big', '--json'], {cwd: p.dir});
    expect(r.code).toBe(11);
    expect(r.stdout + r.stderr).toContain('Requested node configuration is not available');
    expect(withLedger(p.dbFile, (l) => l.listRuns({}).length)).toBe(0);
  });

  it('--dry-run on two nodes prints the sbatch script with srun torchrun and a rendezvous on the first node', async () => {
    const p = project();
    const r = await runCli(['train', '--backend', 'multi', '--dry-run'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('--- job.sbatch');
    expect(r.stdout).toContain('#SBATCH --nodes=2');
    expect(r.stdout).toMatch(/srun .*torch\.distributed\.run --nnodes="\$SLURM_NNODES" --nproc_per_node=8 --node_rank="\$SLURM_NODEID"/);
  });
});
