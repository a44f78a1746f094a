"""Fine-tuning a Hugging Face checkpoint of a supported family with the trainer's own modules
(hf_models/: Llama, Mistral, Qwen2, Qwen3, Phi-3, Gemma, Gemma 2, GPT-2): no transformers, no peft.

The data arrives tokenized: the CLI renders each conversation with the model's chat template and
tokenizes it with the model's tokenizer in Node, the same code the server runs, and writes token ids
plus loss masks (RUN_DIR/tokens/). Records longer than the context follow finetune.long_records:
truncate (default), drop, or error; they are counted in the log and in the running event.
"""
import json
import os


from data import DataError
from export_hf import TokenizerFiles, export_hf_model
from hf_models import ModelConfig, build_model, load_pretrained, parse_config
from lora import apply_lora, merge_lora

# The projections LoRA adapts when the spec keeps the default targets of our own GPT ([qkv, proj]).
DEFAULT_TARGETS = {
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],  # Phi-3's fused projections
}
LONG_POLICIES = ("truncate", "drop", "error")


class TokenIds:
    """What data.py's batch sources need from a tokenizer: the id padding rows (masked out)."""

    def __init__(self, pad_id):
        self.pad_id = pad_id


def lora_targets(family, targets):
    if list(targets) == ["qkv", "proj"]:
        return DEFAULT_TARGETS.get(family, DEFAULT_TARGETS["llama"])
    return list(targets)


def read_tokens(path, context, policy):
    """[(ids, mask)] of one split, with the long-record policy applied. Returns (items, counts)."""
    items, counts = [], {"records": 0, "truncated": 0, "dropped": 0}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            ids, mask = rec["ids"], rec["mask"]
            if len(ids) != len(mask):
                raise DataError(f"{path}:{n}: ids and mask differ in length")
            counts["records"] += 1
            if len(ids) > context + 1:  # a row holds context inputs and their next-token targets
                if policy == "error":
                    raise DataError(f"{path}:{n}: record {rec.get('id')!r} has {len(ids)} tokens, more than the "
                                    f"context ({context}). Try this: finetune.long_records: truncate (or drop), "
                                    "or shorten the record")
                if policy == "drop":
                    counts["dropped"] += 1
                    continue
                counts["truncated"] += 1
                ids, mask = ids[: context + 1], mask[: context + 1]
            items.append((ids, mask))
    return items, counts


class HFNative:
    """A Hugging Face-family model: fine-tuned from a checkpoint, or (arch llama) trained from scratch."""

    def __init__(self, model, cfg, hp, device, tok_dir, tokens_dir, policy="truncate", ft=None, base=None):
        self.ft = ft
        self.cfg = cfg
        self.lora = None
        if ft and ft["method"] == "lora":
            lc = ft["lora"]
            targets = lora_targets(cfg.family, lc["targets"])
            self.lora = {"r": lc["r"], "alpha": lc["alpha"], "dropout": lc.get("dropout", 0.0), "targets": targets}
            apply_lora(model, targets, lc["r"], lc["alpha"], self.lora["dropout"])
        self.module = model.to(device)
        self.context = min(cfg.max_position_embeddings, hp["context"])
        self.tokens_dir = tokens_dir
        self.policy = policy
        self.base = base
        tok_files = TokenizerFiles(tok_dir)
        pad = tok_files.token_id("pad_token")
        if pad is None:
            pad = tok_files.token_id("eos_token") or 0
        self.tokenizer = TokenIds(pad)
        self.tok_files = tok_files
        self.data_counts = {}

    @classmethod
    def load(cls, ft, hp, device):
        model, cfg = load_pretrained(ft["base"])
        base = {"path": os.path.abspath(ft["base"]), "type": "hf", "family": cfg.family, "method": ft["method"]}
        return cls(model, cfg, hp, device, ft["base"], ft.get("tokens"), ft.get("long_records") or "truncate",
                   ft=ft, base=base)

    @classmethod
    def fresh_llama(cls, spec, hp, device):
        """A Llama-architecture model from the preset's sizes and the tokenizer's vocabulary."""
        tok = TokenizerFiles(spec["tokenizer"])
        cfg = llama_config(hp, tok)
        model = build_model(cfg)
        model.init_weights(std=0.02)
        return cls(model, cfg, hp, device, spec["tokenizer"], spec.get("tokens"))

    def set_sdpa(self, on):
        pass

    def num_params(self, trainable_only=False):
        return self.module.num_params(trainable_only)

    def flops_per_token(self):
        c = self.cfg
        return 6.0 * self.module.num_params() + 12.0 * c.n_layer * c.n_head * c.head_dim * self.context

    def base_info(self):
        return self.base

    def load_split(self, ds_dir, split, kind):
        tdir = self.tokens_dir
        if not tdir:
            raise DataError("spec.finetune.tokens: a Hugging Face base is fine-tuned from data the CLI tokenized; "
                            "none was given. Try this: start the run with `llmops finetune`")
        meta_path = os.path.join(tdir, "meta.json")
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"{meta_path}: cannot read the tokenized data ({e})") from None
        info = (meta.get("splits") or {}).get(split)
        if not info:
            return None, None
        policy = self.policy
        if policy not in LONG_POLICIES:
            raise DataError(f"spec.finetune.long_records: expected one of {', '.join(LONG_POLICIES)}, got {policy!r}")
        mode = info["mode"]
        # Packed records are cut into windows anyway; the policy is about whole conversations.
        items, counts = read_tokens(os.path.join(tdir, f"{split}.jsonl"), self.context,
                                    policy if mode == "chat" else "keep")
        counts["policy"] = policy if mode == "chat" else "packed"
        self.data_counts[split] = counts
        if counts["truncated"] or counts["dropped"]:
            print(f"{split}: {counts['truncated']} truncated, {counts['dropped']} dropped of {counts['records']} "
                  f"records longer than the context ({self.context}); policy {policy}", flush=True)
        return items, mode

    def _trainable_state(self):
        return {k: v.detach().cpu() for k, v in self.module.state_dict().items()
                if self.lora is None or "lora_" in k}

    def checkpoint_payload(self):
        if self.ft is None:  # from scratch: the whole model, its config and tokenizer
            return {"model.pt": {"format": "hf-native", "base": None, "config": self.cfg.to_dict(),
                                 "tokenizer": os.path.abspath(self.tok_files.dir), "family": self.cfg.family,
                                 "method": "train", "lora": None, "state_dict": self._trainable_state()}}
        return {"model.pt": {"format": "hf-native", "base": os.path.abspath(self.ft["base"]), "family": self.cfg.family,
                             "method": self.ft["method"], "lora": self.lora, "state_dict": self._trainable_state()}}

    def load_checkpoint(self, cdir):
        from checkpoint import tload
        payload = tload(os.path.join(cdir, "model.pt"))
        self.module.load_state_dict(payload["state_dict"], strict=False)

    def export(self, out_dir, meta):
        model = self.module.float().cpu()
        if self.lora:
            merge_lora(model)
        lora = dict(self.lora, merged=True) if self.lora else None
        return export_hf_model(model, self.tok_files, out_dir, "fp32", dict(meta, base=self.base, lora=lora))


def llama_config(hp, tok):
    """Llama sizes from a preset: hidden n_embd, n_layer, n_head, n_kv_head (0: n_head) key/value heads,
    SwiGLU width 8/3 hidden rounded up to 32, context as max_position_embeddings, tied embeddings."""
    h, heads = hp["n_embd"], hp["n_head"]
    kv = hp.get("n_kv_head") or heads
    if heads % kv:
        raise ValueError(f"overrides.n_kv_head: {kv} must divide n_head ({heads})")
    inter = -(-(8 * h // 3) // 32) * 32
    raw = {"model_type": "llama", "vocab_size": tok.vocab_size, "hidden_size": h, "intermediate_size": inter,
           "num_hidden_layers": hp["n_layer"], "num_attention_heads": heads, "num_key_value_heads": kv,
           "max_position_embeddings": hp["context"], "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": True, "initializer_range": 0.02}
    return parse_config(raw, "train preset")


def export_hf_checkpoint(payload, out_dir, meta):
    """`export.py --checkpoint` of an hf-native run: the base (or, from scratch, the saved config) plus
    the checkpoint's trained weights, merged."""
    if payload.get("base") is None:
        cfg = ModelConfig.from_dict(payload["config"])
        model = build_model(cfg)
        model.load_state_dict(payload["state_dict"], strict=False)
        return export_hf_model(model, TokenizerFiles(payload["tokenizer"]), out_dir, "fp32", dict(meta, base=None, lora=None))
    model, cfg = load_pretrained(payload["base"])
    lora = payload.get("lora")
    if lora:
        apply_lora(model, lora["targets"], lora["r"], lora["alpha"], 0.0)
    model.load_state_dict(payload["state_dict"], strict=False)
    if lora:
        merge_lora(model)
    base = {"path": payload["base"], "type": "hf", "family": cfg.family, "method": payload.get("method")}
    return export_hf_model(model, TokenizerFiles(payload["base"]), out_dir, "fp32",
                           dict(meta, base=base, lora=dict(lora, merged=True) if lora else None))
