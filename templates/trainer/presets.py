"""Model and optimisation presets (presets.json). Any key can be overridden by the spec's `overrides`."""
import json
import os

# presets.json is the one list of presets: llmops reads it too, to check `preset:` and `--preset`
# when the config loads, before any run is recorded.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets.json"), encoding="utf-8") as _f:
    _DATA = json.load(_f)

# Defaults every preset starts from. dtype "auto": bf16 on CUDA GPUs that support it, else fp16
# with a grad scaler; fp32 on the CPU.
BASE = _DATA["base"]
PRESETS = _DATA["presets"]
# Other spellings the CLI or users may send for the same key.
ALIASES = _DATA["aliases"]


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
