"""A decoder-only transformer (GPT-2 style, pre-norm, learned positions, tied embeddings) in plain torch.

The same module serves training (full sequence, causal mask) and export (KV cache, explicit
attention_mask and position_ids), so the ONNX graph is exactly the network that was trained.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


@dataclass
class GPTConfig:
    vocab_size: int = 263
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 128
    dropout: float = 0.0
    bias: bool = True

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        keys = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in keys})


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)
        # Set by the trainer: SDPA is used for training on CUDA; export and CPU determinism keep
        # the explicit softmax, which traces to plain ONNX ops.
        self.use_sdpa = False

    def _split(self, x):
        b, s, _ = x.shape
        q, k, v = self.qkv(x).split(self.n_head * self.head_dim, dim=2)
        shape = (b, s, self.n_head, self.head_dim)
        return (q.view(shape).transpose(1, 2), k.view(shape).transpose(1, 2), v.view(shape).transpose(1, 2))

    def forward(self, x):
        """Training path: full causal self-attention over x [b, s, e]."""
        b, s, e = x.shape
        q, k, v = self._split(x)
        if self.use_sdpa and HAS_SDPA:
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            causal = torch.ones(s, s, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~causal, torch.finfo(att.dtype).min)
            att = F.softmax(att, dim=-1)
            att = F.dropout(att, p=self.dropout, training=self.training)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(b, s, e)
        return self.resid_drop(self.proj(y))

    def forward_cached(self, x, mask, past_k, past_v):
        """Inference path: x [b, s, e]; mask [b, 1, s, past+s] bool; past [b, h, past, d]."""
        b, s, e = x.shape
        q, k, v = self._split(x)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        att = att.masked_fill(~mask, torch.finfo(att.dtype).min)
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, s, e)
        return self.proj(y), k, v


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

    def forward_cached(self, x, mask, past_k, past_v):
        a, k, v = self.attn.forward_cached(self.ln_1(x), mask, past_k, past_v)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head != 0:
            raise ValueError(f"n_embd ({cfg.n_embd}) must be a multiple of n_head ({cfg.n_head})")
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: fewer parameters, better small models
        self.apply(self._init)
        # GPT-2's scaled init of residual projections keeps activations stable with depth.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def set_sdpa(self, on: bool):
        for blk in self.h:
            blk.attn.use_sdpa = on

    def num_params(self, trainable_only=False):
        seen, n = set(), 0
        for p in self.parameters():
            if id(p) in seen or (trainable_only and not p.requires_grad):
                continue
            seen.add(id(p))
            n += p.numel()
        return n

    def forward(self, idx, targets=None, loss_mask=None):
        b, s = idx.shape
        if s > self.config.n_positions:
            raise ValueError(f"sequence length {s} exceeds the context ({self.config.n_positions})")
        pos = torch.arange(s, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos)[None])
        for blk in self.h:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
        if loss_mask is None:
            return logits, loss.mean()
        m = loss_mask.reshape(-1).to(loss.dtype)
        return logits, (loss * m).sum() / m.sum().clamp(min=1.0)

    def forward_cached(self, input_ids, attention_mask, position_ids, past):
        """input_ids/position_ids [b, s]; attention_mask [b, past+s] (1 = attend); past: list of (k, v)."""
        b, s = input_ids.shape
        total = attention_mask.shape[1]
        x = self.wte(input_ids) + self.wpe(position_ids)
        # Query i sits at absolute index total - s + i; it may see keys at indices <= that.
        q_idx = torch.arange(s, device=input_ids.device) + (total - s)
        k_idx = torch.arange(total, device=input_ids.device)
        causal = k_idx[None, :] <= q_idx[:, None]
        mask = causal[None, None, :, :] & attention_mask.bool()[:, None, None, :]
        presents = []
        for blk, (pk, pv) in zip(self.h, past):
            x, k, v = blk.forward_cached(x, mask, pk, pv)
            presents.append((k, v))
        return self.lm_head(self.ln_f(x)), presents


def flops_per_token(cfg: GPTConfig, n_params: int, seq_len: int) -> float:
    """Training FLOPs per token (PaLM appendix B): 6N plus attention's 12 * L * d * s."""
    return 6.0 * n_params + 12.0 * cfg.n_layer * cfg.n_embd * seq_len
