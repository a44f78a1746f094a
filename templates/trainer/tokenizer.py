"""Byte-level tokenizer: ids 0-255 are bytes, 256+ are special tokens.

It is written as a Hugging Face tokenizer.json (BPE over GPT-2's byte alphabet, no merges, ByteLevel
pre-tokenizer and decoder) so that @huggingface/tokenizers in the Node server and HF tools produce
exactly the ids this module produces. Special tokens are matched in text like HF's added_tokens do.
"""
import json
import re

SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

CHAT_FORMAT = {
    "system": "<|system|>\n{content}<|end|>\n",
    "user": "<|user|>\n{content}<|end|>\n",
    "assistant": "<|assistant|>\n{content}<|end|>\n",
    "generation_prompt": "<|assistant|>\n",
    "stop": ["<|end|>", "<|eos|>"],
}

# The same template in Jinja for HF tools (tokenizer_config.json's chat_template).
JINJA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class ByteTokenizer:
    def __init__(self):
        self.special = {tok: 256 + i for i, tok in enumerate(SPECIAL_TOKENS)}
        self.id_to_special = {v: k for k, v in self.special.items()}
        self.vocab_size = 256 + len(SPECIAL_TOKENS)
        self._split = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    @property
    def bos_id(self):
        return self.special["<|bos|>"]

    @property
    def eos_id(self):
        return self.special["<|eos|>"]

    @property
    def pad_id(self):
        return self.special["<|pad|>"]

    @property
    def end_id(self):
        return self.special["<|end|>"]

    def token_id(self, tok):
        return self.special[tok]

    def encode(self, text):
        ids = []
        for part in self._split.split(text):
            if not part:
                continue
            sid = self.special.get(part)
            if sid is not None:
                ids.append(sid)
            else:
                ids.extend(part.encode("utf-8"))
        return ids

    def decode(self, ids):
        out, buf = [], bytearray()
        for i in ids:
            if i < 256:
                buf.append(i)
            else:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                out.append(self.id_to_special.get(i, ""))
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def to_hf_json(self):
        b2u = bytes_to_unicode()
        vocab = {b2u[b]: b for b in range(256)}
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True}
                for tok, i in self.special.items()
            ],
            "normalizer": None,
            "pre_tokenizer": dict(byte_level),
            "post_processor": None,
            "decoder": dict(byte_level),
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                "ignore_merges": False, "vocab": vocab, "merges": [],
            },
        }

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_hf_json(), f, ensure_ascii=False, indent=1)

    def tokenizer_config(self, context):
        return {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "unk_token": None,
            "additional_special_tokens": SPECIAL_TOKENS[3:],
            "model_max_length": context,
            # Text records are trained as <|bos|>{text}<|eos|>: plain prompts start with BOS too.
            "add_bos_token": True, "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "chat_template": JINJA_CHAT_TEMPLATE,
        }


def is_byte_tokenizer_json(data):
    """True when a tokenizer.json is (equivalent to) ours, so no `tokenizers` package is needed."""
    model = data.get("model") or {}
    if model.get("type") != "BPE" or model.get("merges"):
        return False
    b2u = bytes_to_unicode()
    if model.get("vocab") != {b2u[b]: b for b in range(256)}:
        return False
    added = {t.get("content"): t.get("id") for t in data.get("added_tokens") or []}
    return added == {tok: 256 + i for i, tok in enumerate(SPECIAL_TOKENS)}


def load_tokenizer(spec_value):
    """'byte' (default) or a path to a tokenizer.json in our byte format."""
    if spec_value in (None, "", "byte"):
        return ByteTokenizer()
    try:
        with open(spec_value, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ValueError(f"tokenizer: cannot read {spec_value}: {e.strerror}. "
                         "Try this: set data.tokenizer to \"byte\" or to an existing tokenizer.json") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"tokenizer: {spec_value} is not JSON (line {e.lineno}: {e.msg})") from None
    if is_byte_tokenizer_json(data):
        return ByteTokenizer()
    raise ValueError(
        f"tokenizer: {spec_value} is not the llmops byte-level tokenizer; the trainer trains only with "
        "it. Try this: use tokenizer \"byte\", or fine-tune a Hugging Face model directory, which "
        "brings its own tokenizer")
