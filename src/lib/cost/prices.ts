/**
 * What an hour of a backend costs, and where that number comes from.
 *
 * Order of precedence (the first that applies wins):
 *   1. the backend's own `price_per_hour` in llmops.yaml (what the user actually pays);
 *   2. `pricing.owned[GPU]`: machines the user owns, amortised (purchase / lifetime + power);
 *   3. `pricing.gpus[GPU]`: the user's per-GPU-hour override;
 *   4. the built-in on-demand table below (docs/cost.md lists each price's source and date);
 *   5. a CPU-only local run: $0, stated as such in every report.
 * Every cost entry stores the price and its source, so changing a price never rewrites history.
 */
import type {BackendConfig, LlmopsConfig} from '../config/schema.js';

export interface GpuPrice {
  usdPerGpuHour: number;
  source: string;
  asOf: string;
}

/**
 * Public on-demand list prices for one GPU, USD per GPU-hour. Single-GPU rates where a provider
 * sells one GPU; see docs/cost.md for links. Prices move: override them with `pricing.gpus`.
 */
export const GPU_PRICES: Record<string, GpuPrice> = {
  H100: {usdPerGpuHour: 3.9492, source: 'Modal on-demand list price (modal.com/pricing)', asOf: '2026-05-07'},
  H200: {usdPerGpuHour: 6.35, source: 'RunPod on-demand list price (runpod.io/pricing)', asOf: '2026-03-10'},
  'A100-40GB': {usdPerGpuHour: 1.48, source: 'Lambda on-demand list price (lambda.ai/pricing)', asOf: '2026-05-07'},
  'A100-80GB': {usdPerGpuHour: 2.4984, source: 'Modal on-demand list price (modal.com/pricing)', asOf: '2026-05-07'},
  L40S: {usdPerGpuHour: 1.9512, source: 'Modal on-demand list price (modal.com/pricing)', asOf: '2026-05-07'},
  A10G: {usdPerGpuHour: 1.006, source: 'AWS EC2 g5.xlarge on-demand, us-east-1 (aws.amazon.com/ec2/pricing)', asOf: '2026-06-17'},
  L4: {usdPerGpuHour: 0.7992, source: 'Modal on-demand list price (modal.com/pricing)', asOf: '2026-05-07'},
  T4: {usdPerGpuHour: 0.5904, source: 'Modal on-demand list price (modal.com/pricing)', asOf: '2026-05-07'},
};

const ALIASES: Record<string, string> = {
  H100SXM: 'H100',
  H10080GB: 'H100',
  H100PCIE: 'H100',
  H200SXM: 'H200',
  A100: 'A100-80GB',
  A10080GB: 'A100-80GB',
  A10040GB: 'A100-40GB',
  A10: 'A10G',
};

/** "a100 80gb", "A100_80GB", "NVIDIA A100-SXM4-80GB" -> "A100-80GB" (the table's names). */
export function normalizeGpuName(name: string): string {
  const raw = name.toUpperCase().replace(/^NVIDIA\s+/, '');
  if (GPU_PRICES[raw]) return raw;
  const compact = raw.replaceAll(/[^A-Z0-9]/g, '').replace('SXM4', '').replace('SXM5', '').replace('PCIE', '');
  for (const key of Object.keys(GPU_PRICES)) if (key.replaceAll('-', '') === compact) return key;
  if (ALIASES[compact]) return ALIASES[compact]!;
  // "A100SXM480GB" style names from nvidia-smi
  if (compact.startsWith('A100')) return compact.endsWith('40GB') ? 'A100-40GB' : 'A100-80GB';
  if (compact.startsWith('H100')) return 'H100';
  if (compact.startsWith('H200')) return 'H200';
  return raw;
}

export interface ResolvedPrice {
  pricePerHour: number;
  source: string;
  /** e.g. "cpu", "A100-80GB x1". */
  resource: string;
}

/** The GPU type and count a backend config asks for, whatever its shape. */
export function backendGpus(b: BackendConfig | undefined): {type?: string; count: number} {
  if (!b) return {count: 0};
  switch (b.type) {
    case 'local':
    case 'ssh':
    case 'docker':
      return b.gpus ? {type: b.gpus.type, count: b.gpus.count} : {count: 0};
    case 'slurm':
      return {type: b.gpu_type, count: b.gpus_per_node * b.nodes};
    case 'kubernetes':
      return {type: b.gpu_type, count: b.gpus * b.nodes};
  }
}

export function priceBackend(b: BackendConfig | undefined, pricing: LlmopsConfig['pricing']): ResolvedPrice {
  const gpus = backendGpus(b);
  const resource = gpus.count > 0 ? `${gpus.type ? normalizeGpuName(gpus.type) : 'GPU'} x${gpus.count}` : 'cpu';
  if (b?.price_per_hour !== undefined) {
    return {pricePerHour: b.price_per_hour, source: b.price_source ?? 'backend price_per_hour in llmops.yaml', resource};
  }
  if (gpus.count > 0 && gpus.type) {
    const name = normalizeGpuName(gpus.type);
    const owned = pricing.owned[gpus.type] ?? pricing.owned[name];
    if (owned) {
      const perGpu = owned.purchase_usd / owned.lifetime_hours + (owned.power_watts / 1000) * owned.usd_per_kwh;
      return {pricePerHour: perGpu * gpus.count, source: `owned ${name}: amortised (pricing.owned)`, resource};
    }
    const override = pricing.gpus[gpus.type] ?? pricing.gpus[name];
    if (override !== undefined) {
      return {pricePerHour: override * gpus.count, source: `pricing.gpus.${name} in llmops.yaml`, resource};
    }
    const listed = GPU_PRICES[name];
    if (listed) {
      return {pricePerHour: listed.usdPerGpuHour * gpus.count, source: `${listed.source}, as of ${listed.asOf}`, resource};
    }
    return {pricePerHour: 0, source: `no price known for GPU "${gpus.type}": $0 (set pricing.gpus or price_per_hour)`, resource};
  }
  if (gpus.count > 0) {
    return {pricePerHour: 0, source: 'GPU type not configured: $0 (set gpus.type or price_per_hour)', resource};
  }
  return {pricePerHour: 0, source: 'CPU-only run: $0 by default (set price_per_hour to charge)', resource};
}
