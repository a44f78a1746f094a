"""Export a checkpoint (or a trained model) to RUN_DIR/model/: ONNX with a KV cache, HF-style configs,
tokenizer files, our metadata, a merged torch state dict, and parity inputs for onnxruntime.

Standalone: python3 trainer/export.py --checkpoint DIR --out DIR
"""
import argparse
import inspect
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from checkpoint import STATE_FILE, publish_dir, resolve, tload  # noqa: E402
from lora import apply_lora, merge_lora  # noqa: E402
from model import GPT, GPTConfig  # noqa: E402
from tokenizer import CHAT_FORMAT, ByteTokenizer  # noqa: E402

OPSET = 14
PARITY_THRESHOLD = 1e-4
PARITY_SAMPLES = ["Hello, world!", "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n", "Grüße, 世界 🌍 ok"]


def model_payload(model, lora=None):
    return {"format": "llmops-gpt", "config": model.config.to_dict(), "lora": lora,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def load_model_file(path, merge=True):
    """model.pt -> (GPT in fp32 on CPU, lora info or None). LoRA weights are merged when merge=True."""
    payload = tload(path)
    if not isinstance(payload, dict) or payload.get("format") != "llmops-gpt":
        raise ValueError(f"{path}: not an llmops model file (expected format \"llmops-gpt\")")
    model = GPT(GPTConfig.from_dict(payload["config"]))
    lora = payload.get("lora")
    if lora:
        apply_lora(model, lora["targets"], lora["r"], lora["alpha"], lora.get("dropout", 0.0))
    model.load_state_dict(payload["state_dict"])
    if lora and merge:
        merge_lora(model)
    return model.float().eval(), lora


class OnnxWrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.model.forward_cached(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def export_onnx(model, path):
    cfg = model.config
    b, s, past = 1, 3, 2  # a non-zero past in the trace keeps its axis dynamic
    ids = torch.zeros((b, s), dtype=torch.long)
    mask = torch.ones((b, past + s), dtype=torch.long)
    pos = torch.arange(past, past + s, dtype=torch.long)[None]
    kv = [torch.zeros((b, cfg.n_head, past, cfg.head_dim)) for _ in range(2 * cfg.n_layer)]
    inputs, outputs = ["input_ids", "attention_mask", "position_ids"], ["logits"]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
            "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(cfg.n_layer):
        for kind in ("key", "value"):
            inputs.append(f"past_key_values.{i}.{kind}")
            outputs.append(f"present.{i}.{kind}")
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
            axes[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    extra = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # torch >= 2.9 defaults to the dynamo exporter; the TorchScript one honours dynamic_axes and
        # gives the graph onnxruntime-node was checked against.
        extra["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(OnnxWrapper(model), (ids, mask, pos, *kv), path, input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True,
                          **extra)


def parity_inputs(model, tok):
    samples = []
    with torch.no_grad():
        for text in PARITY_SAMPLES:
            ids = tok.encode(text)[: model.config.n_positions]
            logits, _ = model(torch.tensor([ids]))
            samples.append({"text": text, "input_ids": ids, "logits_first": logits[0, 0].tolist(),
                            "logits_last": logits[0, -1].tolist()})
    return {"threshold": PARITY_THRESHOLD, "n_layer": model.config.n_layer, "n_head": model.config.n_head,
            "head_dim": model.config.head_dim, "samples": samples}


def python_parity(onnx_path, parity, cfg):
    """Only where Python onnxruntime exists (GPU machines); the CLI checks with onnxruntime-node."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for smp in parity["samples"]:
        ids = np.array([smp["input_ids"]], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None]}
        for i in range(cfg.n_layer):
            for kind in ("key", "value"):
                feed[f"past_key_values.{i}.{kind}"] = np.zeros((1, cfg.n_head, 0, cfg.head_dim), dtype=np.float32)
        logits = sess.run(["logits"], feed)[0]
        worst = max(worst, float(np.abs(logits[0, 0] - np.array(smp["logits_first"])).max()),
                    float(np.abs(logits[0, -1] - np.array(smp["logits_last"])).max()))
    return {"max_abs_diff": worst, "ok": worst <= PARITY_THRESHOLD, "checker": "onnxruntime-python"}


def export_model(model, out_dir, meta, tok=None, dataset_dir=None, lora=None):
    """Writes the model directory atomically; `model` may carry unmerged LoRA layers (merged here)."""
    tok = tok or ByteTokenizer()
    model = model.float().cpu().eval()
    if lora:
        merge_lora(model)
    model.set_sdpa(False)
    cfg = model.config
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{os.path.basename(out_dir)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    export_onnx(model, os.path.join(tmp, "onnx", "model.onnx"))
    config = {"model_type": "llmops-gpt", "architectures": ["LlmopsGPT"], "n_layer": cfg.n_layer,
              "n_head": cfg.n_head, "n_embd": cfg.n_embd, "head_dim": cfg.head_dim, "vocab_size": cfg.vocab_size,
              "n_positions": cfg.n_positions, "bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id,
              "pad_token_id": tok.pad_id, "end_token_id": tok.end_id, "torch_dtype": "float32"}
    files = {
        "config.json": config,
        "tokenizer_config.json": tok.tokenizer_config(cfg.n_positions),
        "generation_config.json": {"bos_token_id": tok.bos_id, "eos_token_id": [tok.end_id, tok.eos_id],
                                   "pad_token_id": tok.pad_id, "max_length": cfg.n_positions},
        "llmops_model.json": {
            "format_version": 1, "preset": meta.get("preset"), "run_id": meta.get("run_id"),
            "dataset_id": meta.get("dataset_id"), "kind": meta.get("kind"), "step": meta.get("step"),
            "chat_format": CHAT_FORMAT, "base": meta.get("base"),
            "lora": ({"r": lora["r"], "alpha": lora["alpha"], "targets": lora["targets"], "merged": True}
                     if lora else None),
            "onnx": {"path": "onnx/model.onnx", "opset": OPSET, "kv_cache": True},
            "params": model.num_params(),
        },
    }
    for name, obj in files.items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, ensure_ascii=False)
    tok.save(os.path.join(tmp, "tokenizer.json"))
    torch.save(model_payload(model), os.path.join(tmp, "model.pt"))
    if dataset_dir and os.path.isfile(os.path.join(dataset_dir, "profile.json")):
        shutil.copyfile(os.path.join(dataset_dir, "profile.json"), os.path.join(tmp, "reference_profile.json"))
    parity = parity_inputs(model, tok)
    with open(os.path.join(tmp, "parity_inputs.json"), "w", encoding="utf-8") as f:
        json.dump(parity, f)
    checked = python_parity(os.path.join(tmp, "onnx", "model.onnx"), parity, cfg)
    if checked is not None:
        with open(os.path.join(tmp, "parity.json"), "w", encoding="utf-8") as f:
            json.dump(checked, f, indent=1)
    publish_dir(tmp, out_dir)
    return {"path": out_dir, "onnx": os.path.join(out_dir, "onnx", "model.onnx"), "parity": checked}


def export_checkpoint(ckpt, out_dir):
    ckpt = resolve(ckpt)
    with open(os.path.join(ckpt, STATE_FILE), encoding="utf-8") as f:
        state = json.load(f)
    meta = dict(state.get("meta") or {})
    meta["step"] = state.get("step")
    payload = tload(os.path.join(ckpt, "model.pt"))
    if isinstance(payload, dict) and payload.get("format") == "hf-native":
        from hf_handle import export_hf_checkpoint
        return export_hf_checkpoint(payload, out_dir, meta)
    model, lora = load_model_file(os.path.join(ckpt, "model.pt"), merge=False)
    return export_model(model, out_dir, meta, dataset_dir=meta.get("dataset_dir"), lora=lora)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export an llmops checkpoint to ONNX + model files.")
    ap.add_argument("--checkpoint", required=True, help="a checkpoint dir, a checkpoints dir or a run dir")
    ap.add_argument("--out", required=True, help="the model directory to write (replaced atomically)")
    args = ap.parse_args(argv)
    try:
        res = export_checkpoint(args.checkpoint, args.out)
    except (ValueError, OSError) as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
