"""Reads and checks spec.json (written by the CLI; contract in docs/trainer.md).

spec.schema.json, next to this file, is generated from llmops's TrainerSpec (the one definition of
the spec); this module validates against it with a small checker of the JSON Schema subset that
file uses, then checks the paths the spec names. It fills in no defaults: every value comes from
the spec, and a missing key is an error.
"""
import json
import os

_SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec.schema.json")
_CHECKED = {"type", "const", "enum", "minLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
            "anyOf", "properties", "required", "additionalProperties", "propertyNames", "items"}
_IGNORED = {"$schema", "description", "title", "default", "$comment"}


class SpecError(ValueError):
    pass


def _schema():
    with open(_SCHEMA_FILE, encoding="utf-8") as f:
        return json.load(f)


def _type_ok(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise SpecError(f"spec.schema.json: unsupported type {t!r}")


_NAMES = {"null": "null", "boolean": "a boolean", "integer": "an integer", "number": "a number",
          "string": "a string", "array": "a list", "object": "an object"}


def _expected(schema):
    """A short description of what a schema accepts, for messages."""
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_expected(s) for s in schema["anyOf"])
    types = schema.get("type")
    types = types if isinstance(types, list) else [types] if types else []
    text = " or ".join(_NAMES.get(t, t) for t in types) or "a value"
    if "exclusiveMinimum" in schema:
        text += f" > {schema['exclusiveMinimum']:g}"
    elif "minimum" in schema and schema["minimum"] > -(2 ** 53 - 1):
        text += f" >= {schema['minimum']:g}"
    if "maximum" in schema and schema["maximum"] < 2 ** 53 - 1:
        text += f" <= {schema['maximum']:g}"
    if schema.get("minLength"):
        text = "a non-empty string" if text == "a string" and schema["minLength"] == 1 else text
    return text


def _fail(path, schema, value):
    return SpecError(f"{path}: expected {_expected(schema)}, got {value!r}")


def validate(value, schema, path="spec"):
    """Raises SpecError naming the first key (spec.a.b) whose value the schema refuses."""
    unknown = set(schema) - _CHECKED - _IGNORED
    if unknown:
        raise SpecError(f"spec.schema.json: unsupported keyword(s) {sorted(unknown)} at {path}")
    if "anyOf" in schema:
        # The one option of the value's own type (an object for "object or null") says what is wrong inside it.
        typed = [o for o in schema["anyOf"] if "type" in o and any(_type_ok(value, t) for t in (o["type"] if isinstance(o["type"], list) else [o["type"]]))]
        if len(typed) == 1:
            validate(value, typed[0], path)
            return
        for option in schema["anyOf"]:
            try:
                validate(value, option, path)
                return
            except SpecError:
                continue
        raise _fail(path, schema, value)
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        if not any(_type_ok(value, t) for t in types):
            raise _fail(path, schema, value)
    if "const" in schema and value != schema["const"]:
        raise _fail(path, schema, value)
    if "enum" in schema and value not in schema["enum"]:
        raise _fail(path, schema, value)
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise _fail(path, schema, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if ("minimum" in schema and value < schema["minimum"]) or ("maximum" in schema and value > schema["maximum"]) \
                or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]) \
                or ("exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]):
            raise _fail(path, schema, value)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                raise SpecError(f"{path}.{key}: missing; expected {_expected(props.get(key, {}))}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{path}.{key}")
            elif extra is False:
                raise SpecError(f"{path}.{key}: unknown key; known: {', '.join(props)}")
            elif isinstance(extra, dict):
                validate(item, extra, f"{path}.{key}")


def load_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except OSError as e:
        raise SpecError(f"spec: cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"spec: {path} line {e.lineno}: not JSON ({e.msg})") from None
    schema = _schema()
    version = schema["properties"]["version"]["const"]
    if isinstance(spec, dict) and spec.get("version") != version:
        raise SpecError(f"spec.version: this trainer reads version {version}, got {spec.get('version')!r}. "
                        "Try this: update trainer/ with `llmops init --force` or the CLI")
    validate(spec, schema)
    _check_paths(spec)
    return spec


def _check_paths(spec):
    """What the schema cannot say: the directories the spec names exist, and kind matches finetune."""
    ds = spec["dataset"]["dir"]
    if not os.path.isdir(ds):
        raise SpecError(f"spec.dataset.dir: {ds} does not exist. "
                        "Try this: run `llmops data prep`, or point the run at an existing dataset")
    if not os.path.isfile(os.path.join(ds, "train.jsonl")):
        raise SpecError(f"spec.dataset.dir: {ds} has no train.jsonl. "
                        "Try this: run `llmops data prep` to write train/val/test splits")
    ft = spec["finetune"]
    if spec["kind"] == "finetune":
        if ft is None:
            raise SpecError("spec.finetune: a finetune needs a base model. Try this: llmops finetune --base RUN_ID")
        if not os.path.isdir(ft["base"]):
            raise SpecError(f"spec.finetune.base: {ft['base']} does not exist")
    elif ft is not None:
        raise SpecError("spec.finetune: set only when kind is \"finetune\"")
    if spec["resume_from"] and not os.path.isdir(spec["resume_from"]):
        raise SpecError(f"spec.resume_from: {spec['resume_from']} does not exist")
    arch = spec.get("arch")
    if arch == "llama" and spec["kind"] == "train":
        if not os.path.isfile(os.path.join(str(spec["tokenizer"]), "tokenizer.json")):
            raise SpecError(f"spec.tokenizer: a llama run needs a folder with tokenizer.json, got {spec['tokenizer']!r}")
        if not spec.get("tokens"):
            raise SpecError("spec.tokens: a llama run reads data the CLI tokenized. Try this: start it with `llmops train --tokenizer DIR`")
