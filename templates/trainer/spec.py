"""Reads and checks spec.json (written by the CLI; contract in docs/trainer.md)."""
import json
import os


class SpecError(ValueError):
    pass


def _int_or_none(spec, key):
    v = spec.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise SpecError(f"spec.{key}: expected a positive integer or null, got {v!r}")
    return v


def load_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except OSError as e:
        raise SpecError(f"spec: cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"spec: {path} line {e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(spec, dict):
        raise SpecError(f"spec: {path}: expected a JSON object")
    if spec.get("version", 1) != 1:
        raise SpecError(f"spec.version: this trainer reads version 1, got {spec.get('version')!r}. "
                        "Try this: update trainer/ with `llmops init --force` or the CLI")
    kind = spec.get("kind", "train")
    if kind not in ("train", "finetune"):
        raise SpecError(f"spec.kind: expected \"train\" or \"finetune\", got {kind!r}")
    spec["kind"] = kind
    if not spec.get("run_dir"):
        raise SpecError("spec.run_dir: missing")
    ds = spec.get("dataset")
    if not isinstance(ds, dict) or not ds.get("dir"):
        raise SpecError("spec.dataset.dir: missing; expected the prepared dataset directory "
                        "(with train.jsonl). Try this: run `llmops data prepare` first")
    if not os.path.isdir(ds["dir"]):
        raise SpecError(f"spec.dataset.dir: {ds['dir']} does not exist. "
                        "Try this: run `llmops data prepare`, or point the run at an existing dataset")
    if not os.path.isfile(os.path.join(ds["dir"], "train.jsonl")):
        raise SpecError(f"spec.dataset.dir: {ds['dir']} has no train.jsonl. "
                        "Try this: run `llmops data prepare` to write train/val/test splits")
    spec.setdefault("preset", "tiny")
    for key in ("max_steps", "eval_every", "checkpoint_every", "threads"):
        spec[key] = _int_or_none(spec, key)
    seed = spec.get("seed", 1337)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SpecError(f"spec.seed: expected an integer, got {seed!r}")
    spec["seed"] = seed
    if spec.get("overrides") is None:
        spec["overrides"] = {}
    if not isinstance(spec["overrides"], dict):
        raise SpecError("spec.overrides: expected an object of hyper-parameters")
    ft = spec.get("finetune")
    if kind == "finetune":
        if not isinstance(ft, dict) or not ft.get("base"):
            raise SpecError("spec.finetune.base: a finetune needs a base model directory. "
                            "Try this: llmops finetune --base RUN_ID")
        if not os.path.isdir(ft["base"]):
            raise SpecError(f"spec.finetune.base: {ft['base']} does not exist")
        ft.setdefault("method", "lora")
        if ft["method"] not in ("lora", "full"):
            raise SpecError(f"spec.finetune.method: expected \"lora\" or \"full\", got {ft['method']!r}")
        lora = dict({"r": 8, "alpha": 16, "dropout": 0.0, "targets": ["qkv", "proj"]}, **(ft.get("lora") or {}))
        if not isinstance(lora["r"], int) or lora["r"] <= 0:
            raise SpecError(f"spec.finetune.lora.r: expected a positive integer, got {lora['r']!r}")
        ft["lora"] = lora
    elif ft:
        raise SpecError("spec.finetune: set only when kind is \"finetune\"")
    if spec.get("resume_from") and not os.path.isdir(spec["resume_from"]):
        raise SpecError(f"spec.resume_from: {spec['resume_from']} does not exist")
    spec.setdefault("tokenizer", "byte")
    arch = spec.get("arch")
    if arch not in (None, "gpt", "llama"):
        raise SpecError(f"spec.arch: expected \"gpt\" or \"llama\", got {arch!r}")
    if arch == "llama" and kind == "train":
        if not os.path.isfile(os.path.join(str(spec["tokenizer"]), "tokenizer.json")):
            raise SpecError(f"spec.tokenizer: a llama run needs a folder with tokenizer.json, got {spec['tokenizer']!r}")
        if not spec.get("tokens"):
            raise SpecError("spec.tokens: a llama run reads data the CLI tokenized. Try this: start it with `llmops train --tokenizer DIR`")
    spec["export"] = bool(spec.get("export", True))
    return spec
