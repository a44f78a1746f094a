"""Phi-3 and Phi-4-mini (Phi3ForCausalLM): the Llama decoder with fused projections.

self_attn.qkv_proj holds the q, k and v rows one after the other (k and v with num_key_value_heads
heads), mlp.gate_up_proj the gate rows then the up rows; rotary embeddings may cover only the first
head_dim * partial_rotary_factor dims of each head (the Rotary built from cfg.rotary_dim does that),
with longrope scaling for the long-context checkpoints. Names follow the Hugging Face checkpoints.
"""
import torch.nn as nn
import torch.nn.functional as F

from .llama import Attention, DecoderLayer, LlamaForCausalLM


class Phi3Attention(Attention):
    def make_projections(self, cfg):
        e, q, kv = cfg.hidden_size, self.n_head * self.head_dim, self.n_kv * self.head_dim
        self.qkv_proj = nn.Linear(e, q + 2 * kv, bias=False)
        self.o_proj = nn.Linear(q, e, bias=False)

    def project(self, x):
        b, s, _ = x.shape
        q_rows, kv_rows = self.n_head * self.head_dim, self.n_kv * self.head_dim
        q, k, v = self.qkv_proj(x).split([q_rows, kv_rows, kv_rows], dim=-1)
        return (q.view(b, s, self.n_head, self.head_dim), k.view(b, s, self.n_kv, self.head_dim),
                v.view(b, s, self.n_kv, self.head_dim))


class Phi3MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_up_proj = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(up * F.silu(gate))


class Phi3DecoderLayer(DecoderLayer):
    attn_cls, mlp_cls = Phi3Attention, Phi3MLP


class Phi3ForCausalLM(LlamaForCausalLM):
    layer_cls = Phi3DecoderLayer
