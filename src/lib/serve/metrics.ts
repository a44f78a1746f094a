/**
 * Prometheus metrics with vLLM's names under an `llmops:` prefix, so dashboards built for vLLM
 * (vllm:time_to_first_token_seconds...) work after a prefix change. prom-client does the
 * exposition format; a private registry keeps two servers in one process apart.
 */
import {Counter, Gauge, Histogram, Registry} from 'prom-client';
import type {GenerationResult} from './sequence.js';

// vLLM's buckets, extended downwards: a small model on a CPU emits tokens in about a millisecond.
const TTFT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const E2E_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly ttft: Histogram<'model_name'>;
  private readonly itl: Histogram<'model_name'>;
  private readonly e2e: Histogram<'model_name'>;
  private readonly promptTokens: Counter<'model_name'>;
  private readonly generationTokens: Counter<'model_name'>;
  private readonly success: Counter<'model_name' | 'finish_reason'>;
  private readonly failures: Counter<'model_name' | 'status'>;

  constructor(
    private readonly modelName: string,
    load: () => {running: number; waiting: number},
  ) {
    const registers = [this.registry];
    const labelNames = ['model_name'] as const;
    this.ttft = new Histogram({name: 'llmops:time_to_first_token_seconds', help: 'Time to first token in seconds.', labelNames, buckets: TTFT_BUCKETS, registers});
    this.itl = new Histogram({
      name: 'llmops:inter_token_latency_seconds',
      help: "Mean time between output tokens of a request in seconds (vLLM's time_per_output_token).",
      labelNames,
      buckets: ITL_BUCKETS,
      registers,
    });
    this.e2e = new Histogram({name: 'llmops:e2e_request_latency_seconds', help: 'End-to-end request latency in seconds.', labelNames, buckets: E2E_BUCKETS, registers});
    this.promptTokens = new Counter({name: 'llmops:prompt_tokens_total', help: 'Number of prefill tokens processed.', labelNames, registers});
    this.generationTokens = new Counter({name: 'llmops:generation_tokens_total', help: 'Number of generation tokens processed.', labelNames, registers});
    this.success = new Counter({
      name: 'llmops:request_success_total',
      help: 'Count of successfully processed requests, by finish reason.',
      labelNames: ['model_name', 'finish_reason'],
      registers,
    });
    this.failures = new Counter({
      name: 'llmops:request_failure_total',
      help: 'Requests that ended with an error or were cancelled, by HTTP status.',
      labelNames: ['model_name', 'status'],
      registers,
    });
    const model = modelName;
    new Gauge({
      name: 'llmops:num_requests_running',
      help: 'Number of requests generating now.',
      labelNames,
      registers,
      collect() {
        this.set({model_name: model}, load().running);
      },
    });
    new Gauge({
      name: 'llmops:num_requests_waiting',
      help: 'Number of requests waiting in the queue.',
      labelNames,
      registers,
      collect() {
        this.set({model_name: model}, load().waiting);
      },
    });
  }

  observe(r: GenerationResult): void {
    const l = {model_name: this.modelName};
    this.promptTokens.inc(l, r.promptTokens);
    this.generationTokens.inc(l, r.completionTokens);
    if (r.ttftMs !== null) this.ttft.observe(l, r.ttftMs / 1000);
    if (r.itlMs !== null) this.itl.observe(l, r.itlMs / 1000);
    this.e2e.observe(l, r.e2eMs / 1000);
    if (r.finishReason === 'stop' || r.finishReason === 'length') this.success.inc({...l, finish_reason: r.finishReason});
  }

  failed(status: number): void {
    this.failures.inc({model_name: this.modelName, status: String(status)});
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
