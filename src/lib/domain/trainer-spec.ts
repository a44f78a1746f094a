/**
 * The contract between llmops and the Python trainer: spec.json, the one file a run's trainer
 * reads. This zod schema is its single source of truth:
 *   - runtime/spec.ts builds a TrainerSpec from the config and flags (every default comes from
 *     config/schema.ts; the trainer adds none of its own);
 *   - templates/trainer/spec.schema.json is generated from it (`npm run schemas`;
 *     test/trainer/spec-schema.test.ts fails when the file is stale), and the trainer's spec.py
 *     validates spec.json against that file before it trains.
 * Changing a field means changing it here, regenerating the schema, and bumping
 * TRAINER_SPEC_VERSION when an older trainer could not read the new spec.
 */
import {z} from 'zod';

/** The version of spec.json this llmops writes and its trainer reads. */
export const TRAINER_SPEC_VERSION = 1;

const positiveInt = z.number().int().positive();

export const LoraSpec = z.strictObject({
  r: positiveInt.describe('LoRA rank.'),
  alpha: positiveInt,
  dropout: z.number().min(0).max(1),
  targets: z.array(z.string()).describe('Module names LoRA adapts.'),
});

export const FinetuneSpec = z.strictObject({
  base: z.string().min(1).describe('The base model directory: our export, a checkpoint, or a Hugging Face model folder.'),
  method: z.enum(['lora', 'full']),
  lora: LoraSpec,
  tokens: z
    .string()
    .min(1)
    .optional()
    .describe('A Hugging Face base of a family the trainer runs natively: the directory of ids + loss masks the CLI tokenized (sft-tokens.ts).'),
  long_records: z.enum(['truncate', 'drop', 'error']).optional().describe('With `tokens`: records longer than the context.'),
});

export const TrainerSpec = z
  .strictObject({
    version: z.literal(TRAINER_SPEC_VERSION),
    run_id: z.string().min(1),
    kind: z.enum(['train', 'finetune']),
    run_dir: z.string().min(1).describe('Absolute run directory (checkpoints/, model/, logs/).'),
    dataset: z.strictObject({
      id: z.string().nullable().describe('The dataset id in the ledger, or null for a directory outside it.'),
      dir: z.string().min(1).describe('The prepared dataset directory (train.jsonl, val.jsonl).'),
    }),
    preset: z.string().min(1).describe('A preset of presets.json.'),
    max_steps: positiveInt.nullable().describe('null: the preset\'s value.'),
    seed: z.number().int(),
    overrides: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).describe('Preset keys (or their aliases) to change.'),
    eval_every: positiveInt.nullable().describe('null: the preset\'s value.'),
    checkpoint_every: positiveInt.nullable().describe('null: the preset\'s value.'),
    resume_from: z.string().min(1).nullable().describe('A checkpoint to continue from, or null.'),
    finetune: FinetuneSpec.nullable().describe('Set exactly when kind is "finetune".'),
    tokenizer: z.string().min(1).describe('"byte", or a tokenizer folder (tokenizer.json): with arch "llama" the data comes pre-tokenized in `tokens`.'),
    arch: z.enum(['gpt', 'llama']).optional().describe('A from-scratch run\'s architecture: "gpt" (llmops\'s byte-level GPT, the default) or "llama" (train --tokenizer DIR).'),
    tokens: z.string().min(1).optional().describe('arch "llama": the directory of ids the CLI tokenized (sft-tokens.ts).'),
    export: z.boolean().describe('Export model/ (ONNX and the model folder) at the end.'),
    threads: positiveInt.nullable().describe('torch CPU threads; null: torch decides.'),
  })
  .describe('spec.json: what the trainer trains (generated from src/lib/domain/trainer-spec.ts; do not edit).');

export type TrainerSpec = z.infer<typeof TrainerSpec>;

/** The JSON Schema shipped with the trainer (templates/trainer/spec.schema.json). */
export function trainerSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(TrainerSpec) as Record<string, unknown>;
}
