"""Rotary position embeddings as Llama-family checkpoints define them (rotate-half layout), with the
rope_scaling variants of their configs: linear (positions divided by factor), dynamic (NTK: the base
grows once the sequence passes the trained context) and llama3 (per-frequency smoothing of Llama 3.1+).
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


class Rotary(torch.nn.Module):
    def __init__(self, head_dim, base, scaling, max_positions):
        super().__init__()
        self.dim, self.base, self.max_positions = head_dim, base, max_positions
        self.kind = (scaling or {}).get("rope_type", "default")
        self.factor = float((scaling or {}).get("factor", 1.0))
        inv = default_inv_freq(head_dim, base)
        if self.kind == "linear":
            inv = inv / self.factor
        elif self.kind == "llama3":
            inv = llama3_inv_freq(inv, scaling)
        self.register_buffer("inv_freq", inv, persistent=False)

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
        inv = self._dynamic_inv_freq(position_ids) if self.kind == "dynamic" else self.inv_freq
        freqs = position_ids[:, :, None].float() * inv[None, None, :].to(position_ids.device)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rotary(x, cos, sin):
    return (x * cos.to(x.dtype)) + (rotate_half(x) * sin.to(x.dtype))
