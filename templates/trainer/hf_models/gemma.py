"""Gemma and Gemma 2 (GemmaForCausalLM, Gemma2ForCausalLM): the Llama decoder with Gemma's pieces.

Gemma: embeddings scaled by sqrt(hidden_size) (the constant in the hidden dtype), RMSNorm as
x_normed * (1 + weight) in float32, GeGLU (gelu, tanh approximation) MLP, explicit head_dim, tied
embeddings. Gemma 2 adds four norms per layer (the attention and MLP outputs are normed again before
their residual adds), attention scores scaled by query_pre_attn_scalar ** -0.5 and soft-capped, a
sliding window on alternate layers (cfg.window_of), and soft-capped logits. Names follow the Hugging
Face checkpoints.
"""
import torch
import torch.nn as nn

from .llama import DecoderLayer, LlamaForCausalLM, RMSNorm


class GemmaRMSNorm(RMSNorm):
    def reset(self):  # the identity: the weight is an offset from 1
        nn.init.zeros_(self.weight)

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * (1.0 + self.weight.float())).to(x.dtype)


class GemmaDecoderLayer(DecoderLayer):
    norm_cls = GemmaRMSNorm


class Gemma2DecoderLayer(GemmaDecoderLayer):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.pre_feedforward_layernorm = GemmaRMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.post_feedforward_layernorm = GemmaRMSNorm(cfg.hidden_size, cfg.norm_eps)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        a, k, v = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_k, past_v)
        x = x + self.post_attention_layernorm(a)
        return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x))), k, v


class GemmaForCausalLM(LlamaForCausalLM):
    layer_cls = GemmaDecoderLayer

    def embed(self, input_ids):
        x = self.model.embed_tokens(input_ids)
        return x * torch.tensor(self.config.hidden_size ** 0.5, dtype=x.dtype)


class Gemma2ForCausalLM(GemmaForCausalLM):
    layer_cls = Gemma2DecoderLayer

    def head(self, x):
        logits = self.lm_head(x)
        cap = self.config.final_softcap
        return torch.tanh(logits / cap) * cap if cap else logits
