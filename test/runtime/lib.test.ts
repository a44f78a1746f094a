/** The runtime's pieces without the CLI: event parsing, prices, the cost meter on a real SQLite ledger. */
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {CostMeter} from '../../src/lib/cost/meter.js';
import {GPU_PRICES, normalizeGpuName, priceBackend} from '../../src/lib/cost/prices.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {parseEventLine} from '../../src/lib/runtime/events.js';
import {parseNvidiaSmi, sampleGpus} from '../../src/lib/runtime/gpu.js';
import {existsSync} from 'node:fs';
import {tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';

describe('event protocol parsing', () => {
  it('reads metric lines, keeping numbers and booleans and naming what it skipped', () => {
    expect(parseEventLine('{"type":"metric","step":12,"values":{"loss":2.31,"ok":true,"note":"x"}}')).toEqual({
      type: 'metric', step: 12, values: {loss: 2.31, ok: 1}, ts: undefined, dropped: ['note'],
    });
  });
  it("accepts Python's NaN/Infinity output by skipping those values instead of the whole line", () => {
    const e = parseEventLine('{"type": "metric", "step": 3, "values": {"loss": NaN, "lr": 0.1, "gn": Infinity}}');
    expect(e).toMatchObject({type: 'metric', values: {lr: 0.1}, dropped: ['loss', 'gn']});
  });
  it('turns bad lines into protocol errors that say why', () => {
    expect(parseEventLine('not json')).toMatchObject({type: 'protocol_error', error: expect.stringContaining('not JSON')});
    expect(parseEventLine('{"type":"metric","values":{}}')).toMatchObject({type: 'protocol_error', error: expect.stringContaining('step')});
    expect(parseEventLine('{"type":"weird"}')).toMatchObject({type: 'protocol_error', error: expect.stringContaining('unknown type "weird"')});
    expect(parseEventLine('   ')).toBeUndefined();
  });
});

describe('prices', () => {
  const pricing = configSchema.parse({}).pricing;
  it('a CPU-only local run costs $0 and says so', () => {
    const p = priceBackend({type: 'local'}, pricing);
    expect(p).toMatchObject({pricePerHour: 0, resource: 'cpu'});
    expect(p.source).toContain('CPU-only');
  });
  it('uses the built-in table per GPU, with source and date', () => {
    const p = priceBackend({type: 'local', gpus: {type: 'a100 80gb', count: 2}}, pricing);
    expect(p.pricePerHour).toBeCloseTo(GPU_PRICES['A100-80GB']!.usdPerGpuHour * 2);
    expect(p.source).toMatch(/as of 2026-/);
    expect(p.resource).toBe('A100-80GB x2');
    expect(normalizeGpuName('NVIDIA H100 80GB HBM3')).toBe('H100');
  });
  it('backend price_per_hour wins over pricing.owned, which wins over pricing.gpus and the table', () => {
    const custom = configSchema.parse({pricing: {gpus: {L4: 0.5}, owned: {H100: {purchase_usd: 30_000, lifetime_hours: 30_000, power_watts: 700, usd_per_kwh: 0.2}}}}).pricing;
    expect(priceBackend({type: 'local', gpus: {type: 'L4', count: 1}}, custom).pricePerHour).toBe(0.5);
    expect(priceBackend({type: 'local', gpus: {type: 'H100', count: 1}}, custom).pricePerHour).toBeCloseTo(1 + 0.14);
    expect(priceBackend({type: 'local', gpus: {type: 'H100', count: 1}, price_per_hour: 9}, custom).pricePerHour).toBe(9);
  });
});

describe('cost meter (real SQLite ledger)', () => {
  it('keeps queue, setup and run apart, bills no queue time, and prices each entry as it was then', () => {
    const ledger = Ledger.open(path.join(tempDir(), 'l.db'));
    const t = 1_800_000_000_000;
    const m = new CostMeter(ledger, {id: 'r1', stage: 'train', backend: 'b'}, {pricePerHour: 3600, source: 'a', resource: 'cpu'}, {phase: 'queue', now: t});
    m.enter('setup', t + 10_000);
    m.enter('run', t + 12_000);
    expect(m.usd(t + 15_000)).toBeCloseTo(5); // 2 s setup + 3 s run at $1/s
    m.setPrice({pricePerHour: 7200, source: 'b', resource: 'cpu'}, t + 15_000);
    m.flush(t + 16_000);
    const c = ledger.runCost('r1');
    expect(c.usd).toBeCloseTo(7);
    expect(c.byPhase.queue).toEqual({usd: 0, seconds: 10});
    const prices = sqlite(ledger).prepare('SELECT DISTINCT price_source FROM cost_entries ORDER BY price_source').all();
    expect(prices).toEqual([{price_source: 'a'}, {price_source: 'b'}]);
    ledger.close();
  });
});

describe('GPU sampling', () => {
  it('parses nvidia-smi CSV', () => {
    expect(parseNvidiaSmi('0, NVIDIA H100 80GB HBM3, 97, 40000, 650.5\n')).toEqual([{index: 0, name: 'NVIDIA H100 80GB HBM3', utilPct: 97, memMb: 40000, powerW: 650.5}]);
  });
  const hasGpu = existsSync('/dev/nvidiactl');
  it.skipIf(!hasGpu)('samples a real GPU with nvidia-smi (needs an NVIDIA GPU: skipped without one)', async () => {
    const s = await sampleGpus();
    expect(s.length).toBeGreaterThan(0);
    expect(s[0]!.memMb).toBeGreaterThan(0);
  });
});
