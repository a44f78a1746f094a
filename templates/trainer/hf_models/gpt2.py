"""GPT-2 in plain torch with the Hugging Face checkpoint names (transformer.h.N.attn.c_attn, ...).

GPT-2 checkpoints store their projections as Conv1D weights [in, out]; we hold nn.Linear [out, in]
(so LoRA wraps them like any other linear) and transpose on load and save.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import attend, build_mask, count_params, lm_loss

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.c_attn = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.c_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.scale = self.head_dim ** -0.5

    def forward(self, x, mask, past_k=None, past_v=None):
        b, s, e = x.shape
        q, k, v = self.c_attn(x).split(e, dim=2)
        q, k, v = (t.view(b, s, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        y = attend(q, k, v, mask, self.scale).transpose(1, 2).reshape(b, s, e)
        return self.c_proj(y), k, v


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.c_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, mask, past_k=None, past_v=None):
        a, k, v = self.attn(self.ln_1(x), mask, past_k, past_v)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.wpe = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.transformer = Transformer(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # GPT-2 always ties

    def _run(self, input_ids, attention_mask, position_ids, past):
        b, s = input_ids.shape
        total = (past[0][0].shape[2] if past else 0) + s
        mask = build_mask(attention_mask, s, total, input_ids.device)
        t = self.transformer
        x = t.wte(input_ids) + t.wpe(position_ids)
        presents = []
        for i, blk in enumerate(t.h):
            pk, pv = past[i] if past else (None, None)
            x, k, v = blk(x, mask, pk, pv)
            presents.append((k, v))
        return self.lm_head(t.ln_f(x)), presents

    def forward(self, idx, targets=None, loss_mask=None):
        if idx.shape[1] > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {idx.shape[1]} exceeds the context ({self.config.max_position_embeddings})")
        pos = torch.arange(idx.shape[1], device=idx.device)[None].expand(idx.shape[0], -1)
        logits, _ = self._run(idx, None, pos, None)
        return lm_loss(logits, targets, loss_mask)

    def forward_cached(self, input_ids, attention_mask, position_ids, past):
        return self._run(input_ids, attention_mask, position_ids, past)

    def set_sdpa(self, on):
        pass

    def num_params(self, trainable_only=False):
        return count_params(self, trainable_only)

    def init_weights(self, std=0.02):
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=std)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def to_hf_state(self):
        sd = {}
        for k, v in self.state_dict().items():
            if k == "lm_head.weight":
                continue
            sd[k] = v.t().contiguous() if k.endswith(CONV1D) else v
        return sd

    def load_hf_state(self, sd, where):
        fixed = {}
        for k, v in sd.items():
            if k.endswith((".attn.bias", ".attn.masked_bias")) or k == "lm_head.weight":
                continue  # causal-mask buffers of old checkpoints; the head is tied
            name = k if k.startswith("transformer.") else "transformer." + k
            fixed[name] = v.t() if name.endswith(CONV1D) else v
        own = self.state_dict()
        want = set(own) - {"lm_head.weight"}
        missing, extra = sorted(want - set(fixed)), sorted(set(fixed) - want)
        if missing or extra:
            raise ValueError(f"{where}: the weights do not match config.json (missing: {missing[:4]}, "
                             f"unexpected: {extra[:4]})")
        for k in want:
            if tuple(fixed[k].shape) != tuple(own[k].shape):
                raise ValueError(f"{where}: {k} has shape {list(fixed[k].shape)}, config.json implies {list(own[k].shape)}")
        self.load_state_dict(fixed, strict=False)
