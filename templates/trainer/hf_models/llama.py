"""The Llama family in plain torch: Llama (1-3.x, TinyLlama, SmolLM), Mistral, Qwen2 and Qwen3.

Pre-norm decoder blocks: RMSNorm -> attention with rotary embeddings and grouped-query attention
-> residual -> RMSNorm -> SwiGLU MLP -> residual. The family differences are switches of one
module: Qwen2's q/k/v biases, Qwen3's q/k RMSNorm, Mistral's sliding window. Phi-3 (phi3.py) and
Gemma (gemma.py) subclass its pieces: Attention.make_projections/project, DecoderLayer's attn_cls,
mlp_cls and norm_cls, LlamaForCausalLM's layer_cls, embed and head. Module names follow the Hugging
Face checkpoints (model.layers.N.self_attn.q_proj, ...), so their state dicts load as is.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import attend, build_mask, count_params, lm_loss
from .rope import Rotary, apply_rotary


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def reset(self):  # the identity
        nn.init.ones_(self.weight)

    def forward(self, x):
        # In float32 and cast back before the weight, as the reference implementation does.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head, self.n_kv, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        if self.n_head % self.n_kv:
            raise ValueError(f"num_attention_heads ({self.n_head}) must be a multiple of num_key_value_heads ({self.n_kv})")
        self.make_projections(cfg)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, cfg.norm_eps)
            self.k_norm = RMSNorm(self.head_dim, cfg.norm_eps)
        self.qk_norm = cfg.qk_norm
        self.scale = (cfg.query_pre_attn_scalar or self.head_dim) ** -0.5
        self.softcap = cfg.attn_softcap

    def make_projections(self, cfg):
        e = cfg.hidden_size
        self.q_proj = nn.Linear(e, self.n_head * self.head_dim, bias=cfg.attention_bias)
        self.k_proj = nn.Linear(e, self.n_kv * self.head_dim, bias=cfg.attention_bias)
        self.v_proj = nn.Linear(e, self.n_kv * self.head_dim, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(self.n_head * self.head_dim, e, bias=cfg.o_bias)

    def project(self, x):
        """q [b, s, heads, head_dim]; k, v [b, s, kv_heads, head_dim]."""
        b, s, _ = x.shape
        return (self.q_proj(x).view(b, s, self.n_head, self.head_dim),
                self.k_proj(x).view(b, s, self.n_kv, self.head_dim),
                self.v_proj(x).view(b, s, self.n_kv, self.head_dim))

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, s, _ = x.shape
        q, k, v = self.project(x)
        v = v.transpose(1, 2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q = apply_rotary(q.transpose(1, 2), cos, sin)
        k = apply_rotary(k.transpose(1, 2), cos, sin)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        y = attend(q, k, v, mask, self.scale, self.n_head // self.n_kv, self.softcap)
        return self.o_proj(y.transpose(1, 2).reshape(b, s, self.n_head * self.head_dim)), k, v


ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class MLP(nn.Module):
    """down(act(gate(x)) * up(x)): SwiGLU with silu, GeGLU with Gemma's gelu."""

    def __init__(self, cfg):
        super().__init__()
        e, i = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(e, i, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(e, i, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(i, e, bias=cfg.mlp_bias)
        self.act = ACTIVATIONS[cfg.activation]

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Subclasses swap the pieces (a family's attention, MLP or norm) by these class attributes."""
    attn_cls, mlp_cls, norm_cls = Attention, MLP, RMSNorm

    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = self.norm_cls(cfg.hidden_size, cfg.norm_eps)
        self.self_attn = self.attn_cls(cfg)
        self.post_attention_layernorm = self.norm_cls(cfg.hidden_size, cfg.norm_eps)
        self.mlp = self.mlp_cls(cfg)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        a, k, v = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_k, past_v)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), k, v


class LlamaModel(nn.Module):
    def __init__(self, cfg, layer_cls):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([layer_cls(cfg) for _ in range(cfg.n_layer)])
        self.norm = layer_cls.norm_cls(cfg.hidden_size, cfg.norm_eps)
        self.rotary_emb = Rotary(cfg.rotary_dim, cfg.rope_theta, cfg.rope_scaling, cfg.max_position_embeddings,
                                 cfg.original_max_position_embeddings)


class LlamaForCausalLM(nn.Module):
    """The Llama family's causal LM; Phi-3 and Gemma subclass it with their layer class and their
    embedding and logits steps (embed, head)."""
    layer_cls = DecoderLayer

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg, self.layer_cls)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def _run(self, input_ids, attention_mask, position_ids, past):
        b, s = input_ids.shape
        past_len = past[0][0].shape[2] if past else 0
        total = past_len + s
        windows = [self.config.window_of(i) for i in range(self.config.n_layer)]
        masks = {w: build_mask(attention_mask, s, total, input_ids.device, w) for w in set(windows)}
        cos, sin = self.model.rotary_emb(position_ids)
        x = self.embed(input_ids)
        presents = []
        for i, layer in enumerate(self.model.layers):
            pk, pv = past[i] if past else (None, None)
            x, k, v = layer(x, cos, sin, masks[windows[i]], pk, pv)
            presents.append((k, v))
        return self.head(self.model.norm(x)), presents

    def embed(self, input_ids):
        return self.model.embed_tokens(input_ids)

    def head(self, x):
        return self.lm_head(x)

    def forward(self, idx, targets=None, loss_mask=None):
        """Training and evaluation: full causal attention over idx [b, s]; returns (logits, loss)."""
        pos = torch.arange(idx.shape[1], device=idx.device)[None].expand(idx.shape[0], -1)
        logits, _ = self._run(idx, None, pos, None)
        return lm_loss(logits, targets, loss_mask)

    def forward_cached(self, input_ids, attention_mask, position_ids, past):
        """Export/inference: attention_mask [b, past+s]; past: list of (k, v) [b, n_kv, past, head_dim]."""
        return self._run(input_ids, attention_mask, position_ids, past)

    def set_sdpa(self, on):
        pass  # attention is written out (torch 1.13 has no SDPA); it traces to plain ONNX ops

    def num_params(self, trainable_only=False):
        return count_params(self, trainable_only)

    def init_weights(self, std=0.02):
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=std)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, RMSNorm):
                m.reset()

    # The checkpoint's names are ours; only the tied head is left out (as transformers saves it).
    def to_hf_state(self):
        sd = {k: v for k, v in self.state_dict().items()}
        if self.config.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        return sd

    def load_hf_state(self, sd, where):
        sd = dict(sd)
        if self.config.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        own = self.state_dict()
        want = set(own) - ({"lm_head.weight"} if self.config.tie_word_embeddings else set())
        missing = sorted(want - set(sd))
        extra = sorted(k for k in set(sd) - set(own) if not k.endswith("rotary_emb.inv_freq"))
        if missing or extra:
            raise ValueError(f"{where}: the weights do not match config.json (missing: {missing[:4]}, "
                             f"unexpected: {extra[:4]})")
        for k in want:
            if tuple(sd[k].shape) != tuple(own[k].shape):
                raise ValueError(f"{where}: {k} has shape {list(sd[k].shape)}, config.json implies {list(own[k].shape)}")
        self.load_state_dict({k: sd[k] for k in want}, strict=False)
