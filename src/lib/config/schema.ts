/**
 * The schema of llmops.yaml. Every section has defaults, so an empty file is a valid project.
 * `llmops config schema` prints the JSON Schema generated from this file and
 * docs/config-reference.md is generated from it too (a test fails when the doc is stale).
 *
 * Objects are strict: an unknown key is an error with a "did you mean", not silently ignored.
 */
import {z} from 'zod';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();
const ratio = z.number().min(0).max(1);

/** Wall-clock duration such as "90s", "15m", "1h", "7d". */
export const durationString = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'a duration such as "30s", "15m", "1h" or "7d"');

const fieldMap = z
  .strictObject({
    id: z.string().optional().describe('Field holding a stable record id (kept in the output).'),
    text: z.string().optional().describe('Field holding plain text.'),
    instruction: z.string().optional(),
    input: z.string().optional(),
    output: z.string().optional(),
    system: z.string().optional(),
    messages: z.string().optional().describe('Field holding OpenAI-style messages ({role, content}).'),
    conversations: z.string().optional().describe('Field holding ShareGPT-style turns ({from, value}).'),
  })
  .describe('Maps your field names to the canonical ones, e.g. {text: body}.');

/** A rule with a limit: the limit, or false to turn the rule off. */
const limit = <T extends z.ZodNumber>(n: T, def: number | false, what: string) =>
  z.union([z.literal(false), n]).default(def as never).describe(`${what} (false: off).`);
const onOff = (def: boolean, what: string) => z.boolean().default(def).describe(`${what} (false: off).`);

/**
 * Quality rules by record kind (docs/data.md, "Quality rules"): text records get the Gopher/C4 rules,
 * chat and instruction records the supervised fine-tuning rules. Unknown names are config errors.
 */
const qualityRules = z
  .strictObject({
    // Text records: Gopher (Rae et al. 2021) as datatrove defines it, C4 (Raffel et al. 2020), and bounds of our own.
    min_chars: limit(z.number().int().nonnegative(), 1, 'Text: fewest characters'),
    max_chars: limit(positiveInt, 100_000, 'Text: most characters'),
    min_words: limit(z.number().int().nonnegative(), 1, 'Text: fewest words'),
    max_words: limit(positiveInt, 20_000, 'Text: most words'),
    min_mean_word_length: limit(nonNegative, 2, 'Text: shortest mean word length'),
    max_mean_word_length: limit(nonNegative, 12, 'Text: longest mean word length'),
    max_symbol_ratio: limit(ratio, 0.1, 'Text: most "#" or ellipses per word (Gopher)'),
    max_digit_ratio: limit(ratio, 0.3, 'Text: most digits per word character'),
    max_duplicate_line_fraction: limit(ratio, 0.3, 'Text: most duplicate lines per line (Gopher, from 50 words)'),
    max_top_ngram_fraction: limit(ratio, 0.2, 'Text: most characters in the top 2-gram; 3-/4-grams 0.02/0.04 lower (Gopher, from 50 words)'),
    c4_lorem_ipsum: onOff(true, 'Text: reject "lorem ipsum" (C4)'),
    c4_curly_bracket: onOff(false, 'Text: reject any "{" (C4; removes code)'),
    // Chat and instruction records: supervised fine-tuning.
    empty_turn: onOff(true, 'Chat: no assistant turn, or an empty user or assistant turn'),
    role_order: onOff(true, 'Chat: system?, then user/assistant alternating (tool turns after tool calls), ending with assistant'),
    max_turn_chars: limit(positiveInt, 100_000, 'Chat: most characters in one turn'),
    echo: onOff(true, 'Chat: an answer that only repeats the prompt'),
    max_repeats: limit(positiveInt, 20, 'Chat: most consecutive repeats of one word, phrase (up to 8 words) or line in a turn'),
    encoding_debris: onOff(true, 'Chat: mojibake, U+FFFD or HTML-escaped tags'),
    refusal: onOff(false, 'Chat: refusal boilerplate in an answer ("As an AI language model", "I cannot assist")'),
    language_mismatch: onOff(false, 'Chat: the answer in another language than the prompt (both detected with confidence)'),
    min_answer_chars: limit(positiveInt, false, 'Chat: fewest characters in the last answer'),
  })
  .prefault({});

export const dataSchema = z
  .strictObject({
    inputs: z
      .array(z.string())
      .default([])
      .describe('Input files, globs or hf://datasets/OWNER/NAME/PATH URLs (relative to the project root).'),
    out: z.string().default('data/prepared').describe('Output directory of the prepared dataset.'),
    format: z.enum(['auto', 'jsonl', 'json', 'csv', 'text']).default('auto'),
    text_unit: z.enum(['line', 'file']).default('line').describe('Plain text: one document per line or per file.'),
    field_map: fieldMap.prefault({}),
    normalize: z
      .strictObject({
        nfc: z.boolean().default(true),
        strip_control: z.boolean().default(true),
        collapse_whitespace: z.boolean().default(true),
        strip_html: z.boolean().default(false),
      })
      .prefault({}),
    quality: z
      .strictObject({
        enabled: z.boolean().default(true),
        language: z.string().nullable().default(null).describe('ISO 639-1 code to keep (e.g. "en"), or null for any.'),
        rules: qualityRules,
      })
      .prefault({}),
    pii: z
      .strictObject({
        mode: z.enum(['redact', 'drop', 'keep']).default('redact'),
        types: z
          .array(
            z.enum(['email', 'phone', 'ip', 'credit_card', 'ssn', 'iban', 'secret']),
          )
          .default(['email', 'phone', 'ip', 'credit_card', 'ssn', 'iban', 'secret']),
      })
      .prefault({}),
    dedup: z
      .strictObject({
        exact: z.boolean().default(true),
        near: z.boolean().default(true),
        ngram: positiveInt.default(5),
        num_perm: positiveInt.default(128),
        threshold: ratio.default(0.8),
        bands: positiveInt.optional().describe('LSH bands; derived from threshold and num_perm when absent.'),
        rows: positiveInt.optional().describe('LSH rows per band; derived when absent.'),
        seed: z.number().int().default(1),
      })
      .prefault({}),
    split: z
      .strictObject({
        train: ratio.default(0.9),
        val: ratio.default(0.05),
        test: ratio.default(0.05),
        seed: z.number().int().default(42),
      })
      .prefault({}),
    tokenizer: z
      .string()
      .default('auto')
      .describe('Counts tokens with: "byte", a model folder, hf:OWNER/NAME, or a tokenizer.json; "auto": the model finetune.base names (a folder or hf:), else byte.'),
    context_length: positiveInt.default(512),
    context_policy: z
      .enum(['keep', 'truncate', 'drop'])
      .default('keep')
      .describe('Records over context_length: keep (counted, with a warning), truncate (chats at a turn boundary), drop.'),
  })
  .prefault({});

const loraSchema = z
  .strictObject({
    r: positiveInt.default(8),
    alpha: positiveInt.default(16),
    dropout: ratio.default(0),
    targets: z
      .array(z.string())
      .default(['qkv', 'proj'])
      .describe('Module names LoRA adapts. The default [qkv, proj] means, on a Hugging Face base, every attention and MLP projection (q/k/v/o/gate/up/down_proj; Phi-3: qkv_proj/o_proj/gate_up_proj/down_proj; GPT-2: c_attn/c_proj/c_fc).'),
  })
  .prefault({});

const trainCommon = {
  preset: z.string().default('tiny').describe('Trainer preset: tiny, small, medium, gpt2-124m...'),
  max_steps: positiveInt.optional(),
  seed: z.number().int().default(1337),
  backend: z.string().default('local').describe('Name of the backend in `backends` to run on.'),
  script: z
    .string()
    .default('trainer/train.py')
    .describe('The Python trainer, relative to the project root (copied there by `llmops init`).'),
  overrides: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe('Extra hyper-parameters passed to the trainer (e.g. {lr: 0.001, batch_size: 16}).'),
  eval_every: positiveInt.optional(),
  checkpoint_every: positiveInt.optional(),
  threads: positiveInt
    .optional()
    .describe('torch CPU threads. Default: 1 for local runs without GPUs (measured 4x faster than 2 on a 2-core machine), else torch decides.'),
};

export const trainSchema = z.strictObject({...trainCommon}).prefault({});

export const finetuneSchema = z
  .strictObject({
    ...trainCommon,
    preset: z.string().default('tiny'),
    method: z.enum(['lora', 'full']).default('lora'),
    base: z.string().optional().describe('RUN_ID, a model directory, or hf:OWNER/NAME.'),
    lora: loraSchema,
    long_records: z
      .enum(['truncate', 'drop', 'error'])
      .default('truncate')
      .describe('Records longer than the context: truncate to the context (loss on the assistant tokens kept), drop them, or fail naming the first. Counted in the run log either way.'),
  })
  .prefault({});

const gpuSpec = z.strictObject({
  type: z.string().describe('GPU model, e.g. A100-80GB, H100, L4.'),
  count: positiveInt.default(1),
});

const priced = {
  price_per_hour: nonNegative.optional().describe('USD per hour for this backend; overrides the GPU price table.'),
  price_source: z.string().optional().describe('Where the price comes from (shown in cost reports).'),
};

export const localBackend = z.strictObject({
  type: z.literal('local'),
  python: z.string().optional().describe('Python interpreter; defaults to the top-level `python`.'),
  gpus: gpuSpec.optional(),
  ...priced,
});

export const sshBackend = z.strictObject({
  type: z.literal('ssh'),
  host: z.string().describe('user@host, or a Host alias from ~/.ssh/config.'),
  port: positiveInt.optional(),
  identity_file: z.string().optional(),
  workdir: z.string().default('llmops-runs').describe('Remote directory for runs (relative to the remote home).'),
  python: z.string().default('python3'),
  gpus: gpuSpec.optional(),
  ssh_options: z.array(z.string()).default([]).describe('Extra `-o` options for ssh, e.g. ["UserKnownHostsFile=..."].'),
  ...priced,
});

export const slurmBackend = z.strictObject({
  type: z.literal('slurm'),
  login: z.string().optional().describe('user@login-node to submit through ssh; local sbatch when absent.'),
  port: positiveInt.optional(),
  identity_file: z.string().optional(),
  ssh_options: z.array(z.string()).default([]),
  workdir: z
    .string()
    .optional()
    .describe('With `login`: directory for runs on the cluster (default llmops-runs under the remote home). Without: runs stay in the local run dir, which the cluster must see (shared filesystem).'),
  python: z.string().default('python3'),
  partition: z.string().optional(),
  nodes: positiveInt.default(1),
  gpus_per_node: z.number().int().nonnegative().default(0),
  gpu_type: z.string().optional().describe('GPU model for pricing (e.g. A100-80GB).'),
  gpu_gres: z.string().optional().describe('GPU type as the cluster\'s gres.conf names it (e.g. a100): sent as --gpus-per-node=TYPE:N.'),
  cpus_per_task: positiveInt.optional(),
  mem: z.string().optional(),
  time: z.string().default('01:00:00'),
  account: z.string().optional(),
  qos: z.string().optional(),
  sbatch_extra: z
    .array(z.string())
    .default([])
    .describe('Extra sbatch options (e.g. ["--constraint=a100"]); options llmops owns (--output, --parsable, --job-name...) are refused.'),
  rdzv_port: z.number().int().min(1024).max(65535).default(29500).describe('torchrun rendezvous port on the first node (multi-node jobs).'),
  poll_interval_s: z.number().positive().default(2),
  ...priced,
});

export const kubernetesBackend = z.strictObject({
  type: z.literal('kubernetes'),
  context: z.string().optional(),
  namespace: z.string().default('default'),
  image: z.string().default('pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime'),
  gpus: z.number().int().nonnegative().default(1),
  nodes: positiveInt.default(1),
  gpu_type: z.string().optional(),
  node_selector: z.record(z.string(), z.string()).default({}),
  tolerations: z.array(z.record(z.string(), z.unknown())).default([]),
  cpu: z.string().optional(),
  memory: z.string().optional(),
  python: z.string().default('python3').describe('Python interpreter with torch inside the image.'),
  pvc: z
    .string()
    .optional()
    .describe('PersistentVolumeClaim to use as the pod workspace; an emptyDir (inputs copied in with kubectl cp) when absent.'),
  service_account: z.string().optional(),
  keep_alive_s: z
    .number()
    .int()
    .nonnegative()
    .default(3600)
    .describe('How long a finished pod waits for llmops to copy checkpoints and the model out.'),
  rdzv_port: z.number().int().min(1024).max(65535).default(29500).describe('torchrun rendezvous port (multi-node jobs).'),
  ...priced,
});

export const dockerBackend = z.strictObject({
  type: z.literal('docker'),
  image: z
    .string()
    .optional()
    .describe('Trainer image (`llmops image build --target trainer`); default llmops-trainer:VERSION.'),
  gpus: gpuSpec.optional().describe('GPUs given to the container (docker run --gpus COUNT); needs the NVIDIA container toolkit.'),
  ...priced,
});

export const backendSchema = z.discriminatedUnion('type', [localBackend, sshBackend, slurmBackend, kubernetesBackend, dockerBackend]);

export const pricingSchema = z
  .strictObject({
    gpus: z
      .record(z.string(), nonNegative)
      .default({})
      .describe('USD per GPU-hour by GPU model; overrides the built-in table (see docs/cost.md).'),
    owned: z
      .record(
        z.string(),
        z.strictObject({
          purchase_usd: nonNegative,
          lifetime_hours: z.number().positive(),
          power_watts: nonNegative.default(0),
          usd_per_kwh: nonNegative.default(0),
        }),
      )
      .default({})
      .describe('Machines you own, priced by amortisation: purchase / lifetime + power.'),
  })
  .prefault({});

export const budgetSchema = z
  .strictObject({
    per_run_usd: nonNegative.optional().describe('Stop a run when its cost reaches this.'),
    monthly_usd: nonNegative.optional().describe('Refuse launches whose estimate exceeds what is left this month.'),
    sample_interval_s: z.number().positive().default(10).describe('How often running costs are sampled.'),
  })
  .prefault({});

export const deploySchema = z
  .strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8000),
    api_key_env: z.string().optional().describe('Name of the environment variable holding the API key.'),
    max_body_bytes: positiveInt.default(1_048_576),
    request_timeout_s: z.number().positive().default(120),
    max_queue: positiveInt.default(64),
    max_concurrent: positiveInt.default(8),
    max_tokens_default: positiveInt.default(128),
    log_text: z.boolean().default(false).describe('Store raw prompts and completions in the ledger.'),
    price_per_hour: nonNegative.default(0).describe('Host price for cost per 1k tokens (0: free, stated as such).'),
    threads: positiveInt.default(1).describe('onnxruntime intra-op threads per session.'),
    stream_flush_ms: z
      .number()
      .min(0)
      .max(1000)
      .default(16)
      .describe('Streamed tokens that come within this many ms of the last write share one write (16: one 60 Hz frame; 0: one write per token).'),
  })
  .prefault({});

export const sloSchema = z
  .strictObject({
    p95_latency_ms: z.number().positive().optional().describe('Maximum end-to-end latency p95 (ms) of successful requests.'),
    ttft_p95_ms: z.number().positive().optional().describe('Maximum time-to-first-token p95 (ms).'),
    error_rate: ratio.optional().describe('Maximum share of requests that failed on the server (5xx) or were cut off (0..1); 4xx are not counted.'),
    client_error_rate: ratio.optional().describe('Maximum share of requests refused with a 4xx (0..1): bad requests, unknown model, queue full (429).'),
    drift_psi: nonNegative.optional().describe('Maximum PSI of prompt lengths against the training reference.'),
    drift_js: nonNegative.optional().describe('Maximum Jensen-Shannon divergence (bits) of prompt terms.'),
    cost_per_1k_tokens: nonNegative.optional().describe('Maximum USD per 1,000 tokens (host price x running time).'),
    min_tokens_per_s: nonNegative.optional().describe('Minimum median decode speed of one request (tokens/s).'),
  })
  .prefault({});

export const monitorSchema = z
  .strictObject({
    window: durationString.default('1h').describe('Default window of `llmops monitor` (overridden by --since).'),
    slo: sloSchema,
    drift: z
      .strictObject({
        psi_notable: nonNegative.default(0.1),
        psi_significant: nonNegative.default(0.2),
        js_threshold: nonNegative.default(0.1),
        min_requests: positiveInt
          .default(30)
          .describe('Fewer requests with a profile in the window: "not enough traffic", never a breach.'),
        max_requests: positiveInt
          .default(5000)
          .describe('Drift compares the newest this many requests of the window (bounds the work).'),
      })
      .prefault({}),
    stall_after_s: z.number().positive().default(300).describe('A running run with no new step for this long is marked stalled.'),
    refresh_s: z.number().positive().default(2).describe('Refresh interval of --watch views.'),
    alert_webhook: z.string().url().optional().describe('URL that `monitor --check` POSTs a breach to as JSON.'),
    alert_webhook_env: z
      .string()
      .optional()
      .describe('Name of an environment variable holding the webhook URL (keeps a secret URL out of llmops.yaml).'),
  })
  .prefault({});

export const STAGE_KINDS = ['prep', 'train', 'finetune', 'eval', 'export', 'promote', 'deploy'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

const stageName = z.string().regex(/^[a-z][\w-]{0,39}$/, 'a stage name: lower-case letters, digits, "_" and "-"');

export const pipelineStageSchema = z.strictObject({
  name: stageName.optional().describe('Stage name (default: its kind). `pipeline run NAME` runs it and what it needs.'),
  kind: z.enum(STAGE_KINDS).describe('What the stage does.'),
  needs: z.array(stageName).optional().describe('Stages whose outputs it takes (default: the stage before it).'),
  backend: z.string().optional().describe('train/finetune: the backend of `backends` to run on (default: the section\'s backend).'),
  inputs: z.array(z.string()).default([]).describe('Extra files or globs whose content is part of the stage\'s inputs.'),
  options: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('prep/train/finetune/deploy: keys of that config section (data, train, finetune, deploy) set for this stage; eval: eval options; promote: {model, alias, checks} (checks in the form of eval.checks, the alias\'s current holder as the baseline); export: {}.'),
});

export const pipelineSchema = z
  .strictObject({
    stages: z.array(pipelineStageSchema).default([]).describe('Stages in order; `llmops pipeline run` runs those whose inputs changed.'),
  })
  .prefault({})
  .describe('The cached pipeline (docs/pipeline.md).');

const bound = z
  .strictObject({
    min: z.number().optional().describe('The value must be at least this.'),
    max: z.number().optional().describe('The value must be at most this.'),
  })
  .describe('Bounds of a check: min, max or both.');

/** Thresholds on eval metrics; also the promote gate's checks, with the alias's holder as baseline. */
export const evalChecksSchema = z
  .strictObject({
    perplexity: bound.optional().describe('Token perplexity of the model.'),
    perplexity_ratio: bound.optional().describe('Perplexity / the baseline\'s perplexity (needs --baseline), e.g. {max: 1.05}.'),
    bits_per_byte: bound.optional(),
    acc: bound.optional().describe('Multiple-choice accuracy (--choices).'),
    acc_norm: bound.optional().describe('Length-normalised multiple-choice accuracy (--choices).'),
    acc_delta: bound.optional().describe('acc minus the baseline\'s acc (needs --baseline), e.g. {min: -0.02}.'),
    exact_match: bound.optional().describe('Generation exact match (--generate), e.g. {min: 0.3}.'),
    exact_match_delta: bound.optional().describe('exact_match minus the baseline\'s (needs --baseline).'),
    pct_stereotype: bound.optional().describe('Share of bias pairs where the stereotyping sentence is more likely (--pairs); 0.5 = no preference, e.g. {min: 0.4, max: 0.6}.'),
  })
  .prefault({})
  .describe('Thresholds `llmops eval --check` enforces (exit 7 naming the failed check). A check whose metric was not measured is skipped.');

export const evalSchema = z
  .strictObject({
    checks: evalChecksSchema,
    max_length: positiveInt.optional().describe("Window length of rolling perplexity and longest scored sequence (default: the model's context length). Lower it for long-context models on CPU: one window's logits take length x vocabulary x 4 bytes."),
    batch_rows: positiveInt.default(16).describe('Most sequences in one forward pass.'),
    batch_tokens: positiveInt.default(8192).describe('Most tokens (rows x padded length) in one forward pass.'),
    max_new_tokens: positiveInt.default(128).describe('Longest answer --generate lets the model write.'),
    threads: z.number().int().nonnegative().default(0).describe('onnxruntime intra-op threads; 0 = one per CPU core, at most 8.'),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().default('llmops-project').describe('Project name.'),
    python: z
      .string()
      .default('python3')
      .describe('Python interpreter with torch for local runs (`llmops doctor` checks it).'),
    ledger: z
      .strictObject({
        path: z.string().default('.llmops/llmops.db').describe('SQLite ledger; LLMOPS_DB overrides it.'),
      })
      .prefault({}),
    runs_dir: z.string().default('.llmops/runs').describe('Where run directories live.'),
    cache_dir: z.string().default('.llmops/cache').describe('Downloads from the Hugging Face Hub.'),
    data: dataSchema,
    train: trainSchema,
    finetune: finetuneSchema,
    backends: z
      .record(z.string(), backendSchema)
      .default({})
      .describe('Named backends. `local` always exists (type local, price 0) unless redefined.'),
    pricing: pricingSchema,
    budget: budgetSchema,
    deploy: deploySchema,
    monitor: monitorSchema,
    eval: evalSchema,
    pipeline: pipelineSchema,
  })
  .prefault({});

export type LlmopsConfig = z.output<typeof configSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type TrainConfig = z.output<typeof trainSchema>;
export type FinetuneConfig = z.output<typeof finetuneSchema>;
export type DeployConfig = z.output<typeof deploySchema>;
export type MonitorConfig = z.output<typeof monitorSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type PipelineStageConfig = z.output<typeof pipelineStageSchema>;
export type EvalChecks = z.output<typeof evalChecksSchema>;
export type EvalConfig = z.output<typeof evalSchema>;

/** The JSON Schema of llmops.yaml, for editors (yaml-language-server) and docs. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {io: 'input', unrepresentable: 'any'}) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://llmops.dev/schema/llmops.schema.json',
    title: 'llmops.yaml',
    description: 'Project configuration for the llmops CLI. Every key is optional.',
  };
}
