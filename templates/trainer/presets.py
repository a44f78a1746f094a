"""Model and optimisation presets. Any key can be overridden by the spec's `overrides`."""

# Defaults every preset starts from.
BASE = {
    "n_layer": 4, "n_head": 4, "n_embd": 128, "context": 128, "dropout": 0.0, "bias": True,
    "n_kv_head": 0,  # Llama-architecture runs (train --tokenizer DIR): key/value heads, 0 = n_head
    "batch_size": 16, "grad_accum": 1, "lr": 3e-3, "min_lr_ratio": 0.1, "warmup_steps": 20,
    "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "grad_clip": 1.0,
    "max_steps": 300, "eval_every": 50, "eval_batches": 4, "checkpoint_every": 100, "log_every": 10,
    "keep_checkpoints": 3,
    # auto: bf16 on CUDA GPUs that support it, else fp16 with a grad scaler; fp32 on the CPU.
    "dtype": "auto", "compile": False, "sdpa": True, "device": "auto",
}

PRESETS = {
    # Trains to a visibly falling loss on a 2-core CPU in about a minute (docs/benchmarks.md).
    "tiny": {"n_layer": 2, "batch_size": 8, "max_steps": 200},
    "small": {"n_layer": 6, "n_head": 6, "n_embd": 384, "context": 256, "batch_size": 32, "lr": 1e-3,
              "warmup_steps": 100, "max_steps": 2000, "eval_every": 200, "checkpoint_every": 500, "log_every": 20},
    "medium": {"n_layer": 8, "n_head": 8, "n_embd": 512, "context": 512, "batch_size": 32, "lr": 6e-4,
               "warmup_steps": 200, "max_steps": 5000, "eval_every": 250, "checkpoint_every": 1000, "log_every": 20},
    "gpt2-124m": {"n_layer": 12, "n_head": 12, "n_embd": 768, "context": 1024, "batch_size": 16, "grad_accum": 4,
                  "lr": 6e-4, "warmup_steps": 700, "max_steps": 20000, "eval_every": 500,
                  "checkpoint_every": 2000, "log_every": 20, "compile": True},
    "gpu-350m": {"n_layer": 24, "n_head": 16, "n_embd": 1024, "context": 1024, "batch_size": 16, "grad_accum": 4,
                 "lr": 3e-4, "warmup_steps": 1000, "max_steps": 30000, "eval_every": 500,
                 "checkpoint_every": 2000, "log_every": 20, "compile": True},
}

# Other spellings the CLI or users may send for the same key.
ALIASES = {"context_length": "context", "block_size": "context", "n_positions": "context",
           "learning_rate": "lr", "warmup": "warmup_steps", "micro_batch_size": "batch_size",
           "gradient_accumulation_steps": "grad_accum", "clip": "grad_clip"}


def resolve(name, overrides):
    if name not in PRESETS:
        raise ValueError(f"preset: unknown preset \"{name}\"; expected one of {', '.join(PRESETS)}. "
                         f"Try this: set train.preset to one of those")
    hp = dict(BASE)
    hp.update(PRESETS[name])
    for key, value in (overrides or {}).items():
        key = ALIASES.get(key, key)
        if key not in hp:
            raise ValueError(f"overrides.{key}: unknown hyper-parameter; known: {', '.join(sorted(hp))}")
        expected = type(BASE[key])
        if expected is bool:
            if isinstance(value, str):
                value = value.lower() in ("1", "true", "yes", "on")
            value = bool(value)
        elif expected is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(f"overrides.{key}: expected an integer, got {value!r}")
            value = int(float(value))
        elif expected is float:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"overrides.{key}: expected a number, got {value!r}") from None
        else:
            value = str(value)
        hp[key] = value
    if hp["n_embd"] % hp["n_head"] != 0:
        raise ValueError(f"overrides: n_embd ({hp['n_embd']}) must be a multiple of n_head ({hp['n_head']})")
    return hp
