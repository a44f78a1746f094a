"""Fine-tuning a Hugging Face model directory with transformers (+ peft for LoRA).

Only GPU machines have these packages; they are imported here, lazily, and a clear error says what
is missing otherwise. The trainer never downloads: the base arrives as a local directory.
"""
import json
import os

import torch


def _require():
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise ValueError("finetune.base is a Hugging Face model, which needs the Python packages "
                         "transformers (and peft for LoRA); they are not importable by this Python. "
                         "Try this: pip install transformers peft, or set `python:` in llmops.yaml to an "
                         "interpreter that has them") from None


class HFTokenizer:
    """Adapts a transformers tokenizer to what data.py and the loop use."""

    def __init__(self, hf_tok):
        self.hf = hf_tok
        self.bos_id = hf_tok.bos_token_id
        self.eos_id = hf_tok.eos_token_id
        self.pad_id = hf_tok.pad_token_id if hf_tok.pad_token_id is not None else hf_tok.eos_token_id
        self.end_id = self.eos_id
        self.vocab_size = len(hf_tok)

    def encode(self, text):
        return self.hf.encode(text, add_special_tokens=False)

    def render(self, rec, assistant_only):
        if "text" in rec and isinstance(rec["text"], str):
            ids = self.hf.encode(rec["text"], add_special_tokens=True)
            if self.eos_id is not None:
                ids = ids + [self.eos_id]
            return ids, [1] * len(ids)
        msgs = rec["messages"]
        if not getattr(self.hf, "chat_template", None):
            from tokenizer import CHAT_FORMAT
            text_of = lambda ms: "".join(CHAT_FORMAT[m["role"]].replace("{content}", m["content"]) for m in ms)  # noqa: E731
            enc = lambda ms: self.hf.encode(text_of(ms), add_special_tokens=False)  # noqa: E731
        else:
            def enc(ms):
                out = self.hf.apply_chat_template(ms, tokenize=True)
                # transformers 5 returns a BatchEncoding (dict) where 4.x returned the id list
                return list(out["input_ids"] if hasattr(out, "keys") else out)
        # Turn boundaries from growing prefixes: the tokens a message adds are its tokens.
        ids, mask = [], []
        for i, m in enumerate(msgs):
            full = enc(msgs[: i + 1])
            new = full[len(ids):]
            learn = 1 if (not assistant_only or m["role"] == "assistant") else 0
            ids = full
            mask += [learn] * len(new)
        return ids, mask


class _CausalLM(torch.nn.Module):
    """forward(idx, targets, mask) -> (logits, loss), like our GPT."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, idx, targets=None, loss_mask=None):
        logits = self.model(input_ids=idx).logits
        if targets is None:
            return logits, None
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1),
                                                 reduction="none")
        if loss_mask is None:
            return logits, loss.mean()
        m = loss_mask.reshape(-1).to(loss.dtype)
        return logits, (loss * m).sum() / m.sum().clamp(min=1.0)


class HFModel:
    def __init__(self, model, hf_tok, ft, hp, device):
        self.hf_model = model
        self.module = _CausalLM(model).to(device)
        self.tokenizer = HFTokenizer(hf_tok)
        self.hf_tok = hf_tok
        self.ft = ft
        cfg = model.config
        ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 2048
        self.context = min(ctx, hp["context"])

    @classmethod
    def load(cls, ft, hp, device):
        _require()
        from transformers import AutoModelForCausalLM, AutoTokenizer
        base = ft["base"]
        tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        import transformers
        key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, **{key: dtype})
        if ft["method"] == "lora":
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise ValueError("finetune.method lora on a Hugging Face base needs the Python package peft. "
                                 "Try this: pip install peft, or --method full") from None
            lc = ft["lora"]
            targets = lc["targets"] if lc["targets"] != ["qkv", "proj"] else "all-linear"
            model = get_peft_model(model, LoraConfig(r=lc["r"], lora_alpha=lc["alpha"], lora_dropout=lc["dropout"],
                                                     target_modules=targets, task_type="CAUSAL_LM"))
        return cls(model, tok, ft, hp, device)

    def set_sdpa(self, on):
        pass  # transformers picks its own attention implementation (SDPA by default on torch 2)

    def num_params(self, trainable_only=False):
        return sum(p.numel() for p in self.hf_model.parameters() if p.requires_grad or not trainable_only)

    def flops_per_token(self):
        return 6.0 * self.num_params()

    def base_info(self):
        return {"path": os.path.abspath(self.ft["base"]), "type": "hf", "method": self.ft["method"]}

    def load_split(self, ds_dir, split, kind):
        from data import read_jsonl
        path = os.path.join(ds_dir, f"{split}.jsonl")
        if not os.path.exists(path):
            return None, None
        recs = read_jsonl(path)
        chats = [r for r in recs if "messages" in r]
        if kind == "finetune" and chats:
            items = [self.tokenizer.render(r, True) for r in chats]
            return [it for it in items if sum(it[1]) > 0], "chat"
        return [self.tokenizer.render(r, False) for r in recs], "packed"

    def _trainable_state(self):
        return {k: v.detach().cpu() for k, v in self.hf_model.state_dict().items()
                if self.ft["method"] == "full" or "lora_" in k}

    def checkpoint_payload(self):
        return {"model.pt": {"format": "hf-finetune", "base": os.path.abspath(self.ft["base"]),
                             "method": self.ft["method"], "state_dict": self._trainable_state()}}

    def load_checkpoint(self, cdir):
        from checkpoint import tload
        payload = tload(os.path.join(cdir, "model.pt"))
        self.hf_model.load_state_dict(payload["state_dict"], strict=False)

    def export(self, out_dir, meta):
        """Merged weights in Hugging Face format under out_dir/hf (no ONNX for HF bases yet)."""
        from checkpoint import publish_dir
        from tokenizer import CHAT_FORMAT
        model = self.hf_model
        if self.ft["method"] == "lora":
            model = model.merge_and_unload()
        parent = os.path.dirname(os.path.abspath(out_dir))
        tmp = os.path.join(parent, f".tmp-model-{os.getpid()}")
        os.makedirs(os.path.join(tmp, "hf"), exist_ok=True)
        model.save_pretrained(os.path.join(tmp, "hf"))
        self.hf_tok.save_pretrained(os.path.join(tmp, "hf"))
        lc = self.ft["lora"]
        info = {"format_version": 1, "format": "hf", "preset": meta.get("preset"), "run_id": meta.get("run_id"),
                "dataset_id": meta.get("dataset_id"), "kind": meta.get("kind"), "step": meta.get("step"),
                "chat_format": CHAT_FORMAT if not getattr(self.hf_tok, "chat_template", None) else None,
                "base": self.base_info(),
                "lora": {"r": lc["r"], "alpha": lc["alpha"], "merged": True} if self.ft["method"] == "lora" else None,
                "onnx": None}
        with open(os.path.join(tmp, "llmops_model.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
        publish_dir(tmp, os.path.abspath(out_dir))
        return {"path": os.path.abspath(out_dir), "onnx": None, "parity": None}
