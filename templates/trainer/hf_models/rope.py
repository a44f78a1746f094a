"""Rotary position embeddings as Llama-family checkpoints define them (rotate-half layout), with the
rope_scaling variants of their configs: linear (positions divided by factor), dynamic (NTK: the base
grows once the sequence passes the trained context), llama3 (per-frequency smoothing of Llama 3.1+)
and longrope (Phi-3/Phi-4: per-frequency short or long factors, chosen by the sequence length, and
cos/sin scaled by an attention factor). A rotary dim below head_dim (Phi's partial_rotary_factor)
rotates the first dims of each head and passes the rest through.
"""
import math

import torch


def default_inv_freq(dim, base):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def llama3_inv_freq(inv_freq, rs):
    factor = rs["factor"]
    low, high = rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
    old_ctx = rs.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, scaled)


def longrope_attention_factor(rs, max_positions, original):
    """rope_scaling.attention_factor, else sqrt(1 + ln(factor) / ln(original)) with factor the context
    growth max_position_embeddings / original_max_position_embeddings (rope_scaling.factor when the
    config names no original context); 1 when the context does not grow."""
    if rs.get("attention_factor") is not None:
        return float(rs["attention_factor"])
    if original:
        factor = max_positions / original
    else:
        factor, original = float(rs.get("factor") or 1.0), max_positions
    return math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1 else 1.0


class Rotary(torch.nn.Module):
    def __init__(self, dim, base, scaling, max_positions, original_max_positions=None):
        super().__init__()
        self.dim, self.base, self.max_positions = dim, base, max_positions
        self.kind = (scaling or {}).get("rope_type", "default")
        self.factor = float((scaling or {}).get("factor", 1.0))
        self.attention_factor = 1.0
        inv = default_inv_freq(dim, base)
        if self.kind == "linear":
            inv = inv / self.factor
        elif self.kind == "llama3":
            inv = llama3_inv_freq(inv, scaling)
        elif self.kind == "longrope":
            # The config's top-level original_max_position_embeddings wins, as in transformers.
            original = original_max_positions or scaling.get("original_max_position_embeddings") or max_positions
            self.original = original
            self.attention_factor = longrope_attention_factor(
                scaling, max_positions, original_max_positions or scaling.get("original_max_position_embeddings"))
            self.register_buffer("long_inv_freq", inv / torch.tensor(scaling["long_factor"], dtype=torch.float32),
                                 persistent=False)
            inv = inv / torch.tensor(scaling["short_factor"], dtype=torch.float32)
        self.register_buffer("inv_freq", inv, persistent=False)

    def _longrope_inv_freq(self, position_ids):
        # Long factors once the sequence (max position + 1) passes the original context, as
        # transformers switches them; a where() keeps the choice in the traced graph.
        long = (position_ids.max() + 1) > self.original
        return torch.where(long, self.long_inv_freq, self.inv_freq)

    def _dynamic_inv_freq(self, position_ids):
        # transformers grows the base from the longest sequence seen; positions only grow within a
        # generation, so max(position_ids) + 1 gives the same frequencies without state.
        seq = (position_ids.max() + 1).float()
        f = self.factor
        ratio = torch.clamp(f * seq / self.max_positions - (f - 1), min=1.0)
        base = self.base * ratio ** (self.dim / (self.dim - 2))
        exps = torch.arange(0, self.dim, 2, dtype=torch.int64, device=position_ids.device).float() / self.dim
        return 1.0 / (base ** exps)

    def forward(self, position_ids):
        """position_ids [b, s] -> cos, sin [b, 1, s, head_dim] in float32."""
        inv = self.inv_freq
        if self.kind == "dynamic":
            inv = self._dynamic_inv_freq(position_ids)
        elif self.kind == "longrope":
            inv = self._longrope_inv_freq(position_ids)
        freqs = position_ids[:, :, None].float() * inv[None, None, :].to(position_ids.device)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        if self.attention_factor != 1.0:
            cos, sin = cos * self.attention_factor, sin * self.attention_factor
        return cos, sin


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x, cos, sin):
    rot = cos.shape[-1]
    if rot < x.shape[-1]:  # partial rotary: a static shape, so the trace has no data-dependent branch
        return torch.cat([apply_rotary(x[..., :rot], cos, sin), x[..., rot:]], dim=-1)
    return (x * cos.to(x.dtype)) + (rotate_half(x) * sin.to(x.dtype))
