/**
 * GPU detection and sampling through nvidia-smi (no NVML binding: nvidia-smi ships with every
 * driver, and a sample every few seconds costs nothing next to a training step).
 */
import {probe} from '../system/exec.js';

export interface GpuSample {
  index: number;
  name: string;
  utilPct: number;
  memMb: number;
  powerW: number;
}

const QUERY = 'index,name,utilization.gpu,memory.used,power.draw';

export function parseNvidiaSmi(csv: string): GpuSample[] {
  const out: GpuSample[] = [];
  for (const line of csv.split('\n')) {
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 5) continue;
    const num = (s: string) => (Number.isFinite(Number(s)) ? Number(s) : Number.NaN);
    out.push({index: num(parts[0]!), name: parts[1]!, utilPct: num(parts[2]!), memMb: num(parts[3]!), powerW: num(parts[4]!)});
  }
  return out;
}

let available: boolean | undefined;

/** One sample per visible GPU, or [] when there is no nvidia-smi (or it fails). */
export async function sampleGpus(): Promise<GpuSample[]> {
  if (available === false) return [];
  const r = await probe('nvidia-smi', [`--query-gpu=${QUERY}`, '--format=csv,noheader,nounits'], {timeoutMs: 5000});
  if (!r.ok) {
    if (r.missing) available = false;
    return [];
  }
  available = true;
  return parseNvidiaSmi(r.stdout);
}

/** The metrics the supervisor records: the mean over GPUs of utilisation, and sums of memory and power. */
export function gpuMetrics(samples: GpuSample[]): Record<string, number> {
  const ok = samples.filter((s) => Number.isFinite(s.utilPct));
  if (ok.length === 0) return {};
  const sum = (f: (s: GpuSample) => number) => ok.reduce((a, s) => a + (Number.isFinite(f(s)) ? f(s) : 0), 0);
  return {gpu_util: sum((s) => s.utilPct) / ok.length, gpu_mem_mb: sum((s) => s.memMb), gpu_power_w: sum((s) => s.powerW)};
}
