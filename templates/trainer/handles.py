"""What the training loop trains: our GPT (trained from scratch or fine-tuned from one of our models),
a Hugging Face checkpoint of a family the trainer implements (hf_handle.py, plain torch), or any
other Hugging Face model directory (transformers + peft, imported only then).

A handle owns the model, its tokenizer, how records become batches, what a checkpoint holds, and
how the result is exported, so train.py has a single loop for all of them.
"""
import json
import os

import torch

import checkpoint as ckpt
from data import load_split
from export import export_model, load_model_file, model_payload
from lora import apply_lora
from model import GPT, GPTConfig, flops_per_token


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


class OurModel:
    def __init__(self, model, tok, device, lora=None, base=None):
        self.module = model.to(device)
        self.tokenizer = tok
        self.context = model.config.n_positions
        self.lora = lora
        self.base = base

    @classmethod
    def fresh(cls, hp, tok, device):
        cfg = GPTConfig(vocab_size=tok.vocab_size, n_layer=hp["n_layer"], n_head=hp["n_head"], n_embd=hp["n_embd"],
                        n_positions=hp["context"], dropout=hp["dropout"], bias=hp["bias"])
        return cls(GPT(cfg), tok, device)

    @classmethod
    def from_base(cls, ft, hp, tok, device, base_file):
        model, _ = load_model_file(base_file, merge=True)
        if model.config.vocab_size != tok.vocab_size:
            raise ValueError(f"finetune.base: {ft['base']} has vocab_size {model.config.vocab_size}, but the "
                             f"tokenizer has {tok.vocab_size}. Try this: fine-tune with the base's own tokenizer (\"byte\")")
        if hp["dropout"]:
            for m in model.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.p = hp["dropout"]
        lora = None
        if ft["method"] == "lora":
            lc = ft["lora"]
            lora = {"r": lc["r"], "alpha": lc["alpha"], "dropout": lc.get("dropout", 0.0), "targets": list(lc["targets"])}
            apply_lora(model, lora["targets"], lora["r"], lora["alpha"], lora["dropout"])
        info = _read_json(os.path.join(ft["base"], "llmops_model.json")) or {}
        base = {"path": os.path.abspath(ft["base"]), "type": "llmops-gpt", "run_id": info.get("run_id"),
                "method": ft["method"]}
        return cls(model, tok, device, lora=lora, base=base)

    def set_sdpa(self, on):
        self.module.set_sdpa(on)

    def num_params(self, trainable_only=False):
        return self.module.num_params(trainable_only)

    def flops_per_token(self):
        cfg = self.module.config
        n = self.module.num_params() - cfg.n_positions * cfg.n_embd
        return flops_per_token(cfg, n, cfg.n_positions)

    def base_info(self):
        return self.base

    def load_split(self, ds_dir, split, kind):
        return load_split(ds_dir, split, self.tokenizer, kind)

    def checkpoint_payload(self):
        return {"model.pt": model_payload(self.module, self.lora)}

    def load_checkpoint(self, cdir):
        payload = ckpt.tload(os.path.join(cdir, "model.pt"))
        self.module.load_state_dict(payload["state_dict"])

    def export(self, out_dir, meta):
        return export_model(self.module, out_dir, meta, tok=self.tokenizer, dataset_dir=meta.get("dataset_dir"),
                            lora=self.lora)


def detect_base(ft, hp, tok, device):
    base = ft["base"]
    if os.path.isfile(os.path.join(base, "model.pt")):
        return OurModel.from_base(ft, hp, tok, device, os.path.join(base, "model.pt"))
    try:
        cdir = ckpt.resolve(base)
    except ValueError:
        cdir = None
    if cdir and os.path.isfile(os.path.join(cdir, "model.pt")):
        return OurModel.from_base(ft, hp, tok, device, os.path.join(cdir, "model.pt"))
    cfg = _read_json(os.path.join(base, "config.json"))
    from hf_models import FAMILIES
    if cfg and cfg.get("model_type") in FAMILIES:
        from hf_handle import HFNative
        return HFNative.load(ft, hp, device)
    if cfg and cfg.get("model_type") and cfg["model_type"] != "llmops-gpt":
        from hf import HFModel
        return HFModel.load(ft, hp, device)
    raise ValueError(f"finetune.base: {base} is neither an llmops model (model.pt), a checkpoint, nor a "
                     "Hugging Face model directory (config.json with a model_type). "
                     "Try this: --base RUN_ID of a finished run, or a downloaded hf:OWNER/NAME")
