"""Write a Hugging Face checkpoint and its onnx-community layout, with no transformers.

    python3 trainer/export_hf.py --checkpoint HF_DIR --out DIR [--dtype fp32|fp16]
    python3 trainer/export_hf.py --random CONFIG.json --tokenizer TOKDIR --out DIR [--dtype ...] [--seed N]

The folder: config.json (the family's own keys), model.safetensors, tokenizer.json,
tokenizer_config.json (with chat_template), generation_config.json, onnx/model.onnx (or
onnx/model_fp16.onnx; external data next to it past 2 GB), parity_inputs.json (torch logits for
onnxruntime to match) and llmops_model.json. --random builds a random-init model of a family config
(vocab and special-token ids from the tokenizer): the tiny models tests and benchmarks serve.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from checkpoint import publish_dir  # noqa: E402
from hf_models import build_model, load_pretrained, parse_config, save_pretrained  # noqa: E402
from hf_models.onnx_export import OPSET, export_onnx  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json")
PARITY_THRESHOLD = {"fp32": 1e-4, "fp16": 2e-2}  # fp16: the logits output is rounded to float16


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON (line {e.lineno}: {e.msg})") from None


class TokenizerFiles:
    """What export needs from a tokenizer folder: its size, its special-token ids, its files."""

    def __init__(self, tok_dir):
        self.dir = tok_dir
        path = os.path.join(tok_dir, "tokenizer.json")
        if not os.path.isfile(path):
            raise ValueError(f"{tok_dir}: no tokenizer.json. Try this: a Hugging Face model or tokenizer folder")
        tj = _read_json(path)
        self.ids = dict((tj.get("model") or {}).get("vocab") or {})
        if isinstance(self.ids, list):  # Unigram vocabularies are [token, score] lists
            self.ids = {t[0]: i for i, t in enumerate(self.ids)}
        for t in tj.get("added_tokens") or []:
            self.ids[t["content"]] = t["id"]
        if not self.ids:
            raise ValueError(f"{path}: no vocabulary (model.vocab and added_tokens are empty)")
        self.vocab_size = max(self.ids.values()) + 1
        tc_path = os.path.join(tok_dir, "tokenizer_config.json")
        self.config = _read_json(tc_path) if os.path.isfile(tc_path) else {}
        jinja = os.path.join(tok_dir, "chat_template.jinja")
        if not self.config.get("chat_template") and os.path.isfile(jinja):
            with open(jinja, encoding="utf-8") as f:
                self.config["chat_template"] = f.read()
        gc_path = os.path.join(tok_dir, "generation_config.json")
        self.generation = _read_json(gc_path) if os.path.isfile(gc_path) else None

    def token_id(self, key):
        tok = self.config.get(key)
        if isinstance(tok, dict):
            tok = tok.get("content")
        return self.ids.get(tok) if tok else None

    def special_ids(self, cfg_raw):
        bos = cfg_raw.get("bos_token_id", self.token_id("bos_token"))
        eos = cfg_raw.get("eos_token_id", self.token_id("eos_token"))
        pad = cfg_raw.get("pad_token_id", self.token_id("pad_token"))
        return {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad}

    def write(self, out_dir, ids, context):
        shutil.copyfile(os.path.join(self.dir, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
        for name in ("special_tokens_map.json", "chat_template.jinja"):
            if os.path.isfile(os.path.join(self.dir, name)):
                shutil.copyfile(os.path.join(self.dir, name), os.path.join(out_dir, name))
        tc = dict(self.config)
        tc.setdefault("model_max_length", context)
        gen = dict(self.generation) if self.generation else {k: v for k, v in ids.items() if v is not None}
        for name, obj in (("tokenizer_config.json", tc), ("generation_config.json", gen)):
            with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
                json.dump(obj, f, indent=2, ensure_ascii=False)


def parity_inputs(model, dtype, seed=0):
    """Torch logits on fixed token ids (no tokenizer needed in Python), for onnxruntime to match."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    samples = []
    with torch.no_grad():
        for n in (1, 7, min(24, cfg.n_positions)):
            ids = torch.randint(0, cfg.vocab_size, (1, n), generator=g)
            logits, _ = model(ids)
            samples.append({"input_ids": ids[0].tolist(), "logits_first": logits[0, 0].tolist(),
                            "logits_last": logits[0, -1].tolist()})
    return {"threshold": PARITY_THRESHOLD[dtype], "n_layer": cfg.n_layer, "n_head": cfg.n_head,
            "n_kv_head": cfg.n_kv_head, "head_dim": cfg.head_dim, "dtype": dtype,
            "onnx": "onnx/model_fp16.onnx" if dtype == "fp16" else "onnx/model.onnx", "samples": samples}


def export_hf_model(model, tok, out_dir, dtype="fp32", meta=None):
    """Writes out_dir atomically. `model` is a hf_models module (LoRA already merged), any dtype."""
    model = model.float().cpu().eval()
    if dtype == "fp16":
        # The export is of the fp16 model: every number the graph and the checkpoint hold is fp16-exact.
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.half().float())
    cfg = model.config
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{os.path.basename(out_dir)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    ids = tok.special_ids(cfg.raw)
    save_pretrained(model, tmp, dtype="float16" if dtype == "fp16" else "float32", extra_config=ids)
    tok.write(tmp, ids, cfg.max_position_embeddings)
    onnx_rel = "onnx/model_fp16.onnx" if dtype == "fp16" else "onnx/model.onnx"
    export_onnx(model, os.path.join(tmp, onnx_rel), fp16=dtype == "fp16")
    parity = parity_inputs(model, dtype)
    with open(os.path.join(tmp, "parity_inputs.json"), "w", encoding="utf-8") as f:
        json.dump(parity, f)
    meta = dict(meta or {})
    info = {"format_version": 1, "format": "hf", "family": cfg.family, "run_id": meta.get("run_id"),
            "preset": meta.get("preset"), "dataset_id": meta.get("dataset_id"), "kind": meta.get("kind"),
            "step": meta.get("step"), "base": meta.get("base"), "lora": meta.get("lora"), "chat_format": None,
            "onnx": {"path": onnx_rel, "opset": OPSET, "kv_cache": True, "dtype": dtype},
            "params": model.num_params()}
    with open(os.path.join(tmp, "llmops_model.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    publish_dir(tmp, out_dir)
    return {"path": out_dir, "onnx": os.path.join(out_dir, onnx_rel), "family": cfg.family, "dtype": dtype,
            "params": model.num_params(), "parity": None}


def random_model(config_path, tok, seed):
    raw = _read_json(config_path)
    raw.setdefault("vocab_size", tok.vocab_size)
    if raw["vocab_size"] < tok.vocab_size:
        raise ValueError(f"{config_path}: vocab_size {raw['vocab_size']} is smaller than the tokenizer's "
                         f"{tok.vocab_size} tokens")
    cfg = parse_config(raw, config_path)
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.init_weights(std=float(raw.get("initializer_range", 0.02)))
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a Hugging Face checkpoint + onnx-community layout.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a Hugging Face model folder (config.json + safetensors + tokenizer)")
    src.add_argument("--random", help="a family config.json to initialise randomly (needs --tokenizer)")
    ap.add_argument("--tokenizer", help="folder with tokenizer.json (default: the checkpoint's)")
    ap.add_argument("--out", required=True, help="the folder to write (replaced atomically)")
    ap.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if args.random:
            if not args.tokenizer:
                raise ValueError("--random needs --tokenizer DIR (a folder with tokenizer.json)")
            tok = TokenizerFiles(args.tokenizer)
            model, meta = random_model(args.random, tok, args.seed), {"base": None}
        else:
            model, _ = load_pretrained(args.checkpoint)
            tok = TokenizerFiles(args.tokenizer or args.checkpoint)
            meta = {"base": {"path": os.path.abspath(args.checkpoint), "type": "hf"}}
        res = export_hf_model(model, tok, args.out, args.dtype, meta)
    except (ValueError, OSError) as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
