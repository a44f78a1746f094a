"""config.json of each supported family <-> one normalized ModelConfig.

Each family keeps its own key names (Llama: num_hidden_layers, GPT-2: n_layer, ...). We read them
into ModelConfig for the torch modules, and write config.json back in the family's own keys,
keeping every key of the original file we do not model (so a converted checkpoint keeps, say,
its token ids and transformers_version).
"""
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Optional

LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3")
GEMMA_LIKE = ("gemma", "gemma2")
FAMILIES = LLAMA_LIKE + ("phi3",) + GEMMA_LIKE + ("gpt2",)
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM", "phi3": "Phi3ForCausalLM", "gemma": "GemmaForCausalLM",
                 "gemma2": "Gemma2ForCausalLM", "gpt2": "GPT2LMHeadModel"}
ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "longrope")


@dataclass
class ModelConfig:
    family: str
    vocab_size: int
    hidden_size: int
    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int
    intermediate_size: int
    max_position_embeddings: int
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None
    attention_bias: bool = False   # q/k/v (and o for llama's attention_bias) biases
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False          # Qwen3: RMSNorm over head_dim on q and k before rotary
    sliding_window: Optional[int] = None
    tie_word_embeddings: bool = False
    activation: str = "silu"       # silu | gelu_tanh | gelu (exact)
    partial_rotary_factor: float = 1.0   # Phi-3/Phi-4: rotary on the first head_dim * factor dims only
    original_max_position_embeddings: Optional[int] = None  # longrope: the context before scaling
    sliding_layers: Optional[list] = None  # per layer: True where sliding_window applies (None: every layer)
    query_pre_attn_scalar: Optional[float] = None  # Gemma 2: scores scaled by its ** -0.5, not head_dim's
    attn_softcap: Optional[float] = None   # Gemma 2: scores = tanh(scores / cap) * cap
    final_softcap: Optional[float] = None  # Gemma 2: the same on the logits
    raw: dict = field(default_factory=dict)  # the config.json as read, written back with updates

    @property
    def n_positions(self):  # the name the trainer and export use for the context length
        return self.max_position_embeddings

    @property
    def n_embd(self):
        return self.hidden_size

    @property
    def rotary_dim(self):
        return int(self.head_dim * self.partial_rotary_factor)

    def window_of(self, layer):
        """The sliding window of one layer, None for full attention."""
        if not self.sliding_window or (self.sliding_layers is not None and not self.sliding_layers[layer]):
            return None
        return self.sliding_window

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _need(d, key, where):
    if key not in d or d[key] is None:
        raise ValueError(f"{where}: key \"{key}\" is required for model_type \"{d.get('model_type')}\"")
    return d[key]


def _rope_scaling(d, where):
    rs = d.get("rope_scaling") or None
    if rs is None:
        return None
    kind = rs.get("rope_type") or rs.get("type") or "default"
    kind = "longrope" if kind == "su" else kind  # the first Phi-3 128k configs' name for longrope
    if kind not in ROPE_TYPES:
        raise ValueError(f"{where}: rope_scaling type \"{kind}\" is not supported by the llmops trainer "
                         f"(supported: {', '.join(ROPE_TYPES)})")
    return dict(rs, rope_type=kind)


def _check_longrope(cfg, where):
    rs = cfg.rope_scaling or {}
    if rs.get("rope_type") != "longrope":
        return cfg
    for key in ("short_factor", "long_factor"):
        f = rs.get(key)
        if not isinstance(f, list) or len(f) != cfg.rotary_dim // 2:
            raise ValueError(f"{where}: rope_scaling.{key} must be a list of {cfg.rotary_dim // 2} numbers "
                             f"(one per rotary frequency: head_dim {cfg.head_dim} x partial_rotary_factor "
                             f"{cfg.partial_rotary_factor} / 2)")
    return cfg


def _decoder(d, where, **family):
    """ModelConfig of a Llama-style config.json: the keys the decoder families share, plus `family`'s."""
    rp = d.get("rope_parameters")  # transformers 5 keeps rope_theta and the scaling here
    if not isinstance(rp, dict) and isinstance(d.get("rope_scaling"), dict) and "rope_theta" in d["rope_scaling"]:
        rp = d["rope_scaling"]  # the same, written under the old key (as some converters do)
    if isinstance(rp, dict):
        d = dict(d, rope_theta=rp.get("rope_theta", d.get("rope_theta", 10000.0)),
                 rope_scaling=None if (rp.get("rope_type") or "default") == "default" else rp)
    hidden = _need(d, "hidden_size", where)
    heads = _need(d, "num_attention_heads", where)
    kw = dict(family=d["model_type"], vocab_size=_need(d, "vocab_size", where), hidden_size=hidden,
              n_layer=_need(d, "num_hidden_layers", where), n_head=heads,
              n_kv_head=d.get("num_key_value_heads") or heads, head_dim=d.get("head_dim") or hidden // heads,
              intermediate_size=_need(d, "intermediate_size", where),
              max_position_embeddings=d.get("max_position_embeddings") or 2048,
              norm_eps=d.get("rms_norm_eps", 1e-6), rope_theta=d.get("rope_theta", 10000.0),
              rope_scaling=_rope_scaling(d, where),
              tie_word_embeddings=bool(d.get("tie_word_embeddings", False)), raw=dict(d))
    kw.update(family)
    return _check_longrope(ModelConfig(**kw), where)


def _silu(d, where):
    act = d.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        raise ValueError(f"{where}: hidden_act \"{act}\" is not supported (expected silu)")
    return "silu"


def _llama_like(d, where):
    t = d["model_type"]
    return _decoder(
        d, where, activation=_silu(d, where), attention_bias=t == "qwen2" or bool(d.get("attention_bias", False)),
        o_bias=t in ("llama", "qwen3") and bool(d.get("attention_bias", False)),
        mlp_bias=bool(d.get("mlp_bias", False)), qk_norm=t == "qwen3",
        sliding_window=d.get("sliding_window") if (t == "mistral" or d.get("use_sliding_window")) else None)


def _phi3(d, where):
    return _decoder(d, where, activation=_silu(d, where),
                    partial_rotary_factor=float(d.get("partial_rotary_factor")  # transformers 5: in rope_parameters
                                                or (d.get("rope_parameters") or {}).get("partial_rotary_factor") or 1.0),
                    original_max_position_embeddings=d.get("original_max_position_embeddings"),
                    sliding_window=d.get("sliding_window"))


def _gemma_activation(d, where):
    # Gemma's checkpoints say hidden_act "gelu" but were trained with the tanh approximation, which
    # transformers applies unless hidden_activation names the exact one.
    act = d.get("hidden_activation")
    if act is None:
        act = "gelu_pytorch_tanh" if d.get("hidden_act", "gelu") in ("gelu", "gelu_pytorch_tanh") else d["hidden_act"]
    kinds = {"gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh", "gelu": "gelu"}
    if act not in kinds:
        raise ValueError(f"{where}: hidden_activation \"{act}\" is not supported (expected gelu_pytorch_tanh or gelu)")
    return kinds[act]


def _sliding_layers(d, where):
    """Gemma 2: layer_types when the config lists them, else every even layer slides."""
    types = d.get("layer_types")
    if types is None:
        return [i % 2 == 0 for i in range(d["num_hidden_layers"])]
    if len(types) != d["num_hidden_layers"] or not set(types) <= {"sliding_attention", "full_attention"}:
        raise ValueError(f"{where}: layer_types must list one of sliding_attention/full_attention per layer "
                         f"({d['num_hidden_layers']} layers)")
    return [t == "sliding_attention" for t in types]


def _gemma2_keys(d, where):
    """Gemma 2's additions, with Gemma2Config's defaults where a key is absent (an explicit null
    turns a soft-cap or the window off)."""
    given = {k: d[k] if k in d else default for k, default in (
        ("attn_logit_softcapping", 50.0), ("final_logit_softcapping", 30.0), ("sliding_window", 4096))}
    return dict(query_pre_attn_scalar=float(d.get("query_pre_attn_scalar") or 256),
                attn_softcap=given["attn_logit_softcapping"], final_softcap=given["final_logit_softcapping"],
                sliding_window=given["sliding_window"], sliding_layers=_sliding_layers(d, where))


def _gemma(d, where):
    d = dict(d, head_dim=d.get("head_dim") or 256)  # GemmaConfig's default, not hidden / heads
    _need(d, "num_hidden_layers", where)
    bias = bool(d.get("attention_bias", False))
    extra = _gemma2_keys(d, where) if d["model_type"] == "gemma2" else {}
    return _decoder(d, where, activation=_gemma_activation(d, where), attention_bias=bias, o_bias=bias,
                    tie_word_embeddings=True, **extra)


def _gpt2(d, where):
    n_embd = _need(d, "n_embd", where)
    act = d.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu", "gelu_pytorch_tanh"):
        raise ValueError(f"{where}: activation_function \"{act}\" is not supported (expected gelu_new)")
    if d.get("scale_attn_by_inverse_layer_idx") or d.get("reorder_and_upcast_attn"):
        raise ValueError(f"{where}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported")
    heads = _need(d, "n_head", where)
    return ModelConfig(
        family="gpt2", vocab_size=_need(d, "vocab_size", where), hidden_size=n_embd,
        n_layer=_need(d, "n_layer", where), n_head=heads, n_kv_head=heads, head_dim=n_embd // heads,
        intermediate_size=d.get("n_inner") or 4 * n_embd, max_position_embeddings=d.get("n_positions", 1024),
        norm_eps=d.get("layer_norm_epsilon", 1e-5), attention_bias=True, o_bias=True, mlp_bias=True,
        tie_word_embeddings=d.get("tie_word_embeddings", True) is not False, activation="gelu_new", raw=dict(d))


def parse_config(d, where="config.json"):
    t = d.get("model_type")
    if t in LLAMA_LIKE:
        return _llama_like(d, where)
    if t == "phi3":
        return _phi3(d, where)
    if t in GEMMA_LIKE:
        return _gemma(d, where)
    if t == "gpt2":
        return _gpt2(d, where)
    if t == "llmops-gpt":
        raise ValueError(f"{where}: model_type \"llmops-gpt\" is llmops's own GPT, exported by trainer/export.py "
                         "(already servable). Try this: re-export it by its run id")
    raise ValueError(f"{where}: model_type \"{t}\" is not supported by the llmops trainer "
                     f"(supported: {', '.join(FAMILIES)})")


def read_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror}). Try this: point at a Hugging Face model folder") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON (line {e.lineno}: {e.msg})") from None
    return parse_config(d, path)


ACT_NAMES = {"silu": "silu", "gelu_tanh": "gelu_pytorch_tanh", "gelu": "gelu"}


def _family_keys(cfg):
    """The keys one family has beyond the shared decoder ones."""
    f = cfg.family
    if f == "llama":
        return dict(attention_bias=cfg.attention_bias, mlp_bias=cfg.mlp_bias)
    if f == "mistral":
        return dict(sliding_window=cfg.sliding_window)
    if f == "phi3":
        keys = dict(partial_rotary_factor=cfg.partial_rotary_factor, sliding_window=cfg.sliding_window)
        if cfg.original_max_position_embeddings:
            keys["original_max_position_embeddings"] = cfg.original_max_position_embeddings
        return keys
    if f in GEMMA_LIKE:
        keys = dict(hidden_activation=ACT_NAMES[cfg.activation], attention_bias=cfg.attention_bias)
        if f == "gemma2":
            keys.update(query_pre_attn_scalar=cfg.query_pre_attn_scalar, attn_logit_softcapping=cfg.attn_softcap,
                        final_logit_softcapping=cfg.final_softcap, sliding_window=cfg.sliding_window,
                        layer_types=["sliding_attention" if s else "full_attention" for s in cfg.sliding_layers])
        return keys
    return {}


def to_hf_config(cfg, dtype="float32", extra=None):
    """config.json in the family's own keys; keys of the original file we do not model are kept."""
    d = dict(cfg.raw)
    d["model_type"] = cfg.family
    d["architectures"] = [ARCHITECTURES[cfg.family]]
    if cfg.family == "gpt2":
        d.update(vocab_size=cfg.vocab_size, n_embd=cfg.hidden_size, n_layer=cfg.n_layer, n_head=cfg.n_head,
                 n_inner=cfg.intermediate_size, n_positions=cfg.max_position_embeddings,
                 n_ctx=cfg.max_position_embeddings, layer_norm_epsilon=cfg.norm_eps,
                 activation_function="gelu_new", tie_word_embeddings=True)
    else:
        d.update(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.n_layer,
                 num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_kv_head, head_dim=cfg.head_dim,
                 intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_position_embeddings,
                 rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta, rope_scaling=cfg.rope_scaling,
                 hidden_act=ACT_NAMES[cfg.activation], tie_word_embeddings=cfg.tie_word_embeddings)
        d.update(_family_keys(cfg))
        if cfg.family in ("qwen2", "qwen3"):
            d.setdefault("use_sliding_window", False)
            d.setdefault("sliding_window", None)
    d["torch_dtype"] = dtype
    d.update(extra or {})
    return d
