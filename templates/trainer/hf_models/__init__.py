"""Plain-torch implementations of open model families, loading and writing Hugging Face checkpoints.

    model, cfg = load_pretrained("path/to/SmolLM2-135M")    # config.json + model.safetensors
    logits, loss = model(ids, targets, loss_mask)           # training
    logits, presents = model.forward_cached(ids, mask, pos, past)   # export / inference
    save_pretrained(model, "out/", dtype="float16")

No transformers, no safetensors package: torch only.
"""
import json
import os

import torch

from .config import FAMILIES, ModelConfig, parse_config, read_config, to_hf_config  # noqa: F401
from .gemma import Gemma2ForCausalLM, GemmaForCausalLM
from .gpt2 import GPT2LMHeadModel
from .llama import LlamaForCausalLM
from .phi3 import Phi3ForCausalLM
from .safetensors_io import load_checkpoint, save_checkpoint

TORCH_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
                "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


MODELS = {"gpt2": GPT2LMHeadModel, "phi3": Phi3ForCausalLM, "gemma": GemmaForCausalLM, "gemma2": Gemma2ForCausalLM}


def build_model(cfg):
    return MODELS.get(cfg.family, LlamaForCausalLM)(cfg)


def is_hf_checkpoint(model_dir):
    """A folder with a config.json of a supported family and weights to load."""
    try:
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            t = json.load(f).get("model_type")
    except (OSError, ValueError):
        return False
    return t in FAMILIES


def load_pretrained(model_dir, dtype=torch.float32):
    cfg = read_config(model_dir)
    model = build_model(cfg)
    model.load_hf_state(load_checkpoint(model_dir), model_dir)
    return model.to(dtype).eval(), cfg


def save_pretrained(model, out_dir, dtype="float32", extra_config=None, max_shard_bytes=5 * 1024**3):
    """config.json (family keys) + model.safetensors (or shards) in `dtype`."""
    os.makedirs(out_dir, exist_ok=True)
    td = TORCH_DTYPES[dtype]
    state = {k: v.detach().to(td).contiguous() for k, v in model.to_hf_state().items()}
    files = save_checkpoint(state, out_dir, max_shard_bytes)
    name = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[td]
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(to_hf_config(model.config, name, extra_config), f, indent=2)
    return files + ["config.json"]
