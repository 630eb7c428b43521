"""The protocol schema (package copy of protocol/hima.schema.json, generated; never edit it), a small
validator for the subset of JSON Schema that file uses, and the contract's rules for Python: the run id
check and `x-ordered` (hot <= warm). protocol/contract.ts is the TypeScript side; protocol/vectors/ holds
the cases both must agree on (trainer/tests/test_protocol_vectors.py, test/unit/protocolVectors.test.ts).

The trainer validates every control line at run time with this module (no jsonschema dependency in
the shipped package); the tests check events with both this validator and the `jsonschema` package.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from .protocol_generated import CONTROL_DEFS, PROTOCOL_VERSION, RUN_FOLDER, RUN_ID_PATTERN

__all__ = ["PROTOCOL_VERSION", "RUN_FOLDER", "SchemaError", "control_types", "cutoff_order_problem", "definition",
           "is_run_id", "order_problem", "schema", "validate", "validate_event"]
_RUN_ID = re.compile(RUN_ID_PATTERN)


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("hima").joinpath("protocol.schema.json").read_text(encoding="utf-8"))


def definition(name: str) -> dict:
    return schema()["$defs"][name]


class SchemaError(ValueError):
    """A value does not match the schema; the message says where and why."""


def is_run_id(value: object) -> bool:
    """Whether `value` is a run id ($defs/RunId): safe as a folder name under the runs folder."""
    return isinstance(value, str) and _RUN_ID.fullmatch(value) is not None


def order_problem(value: dict, fields: Any) -> str | None:
    """`x-ordered: [a, b]`: the reason the object's field a exceeds its field b, or None when it does not
    (or when either is not a number: other keywords say that)."""
    a, b = fields
    x, y = value.get(a), value.get(b)
    numbers = all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (x, y))
    return f"{a} ({x}) must not exceed {b} ({y})" if numbers and x > y else None


def cutoff_order_problem(hot: float, warm: float) -> str | None:
    """The cutoff invariant hot <= warm: its reason when broken, else None."""
    return order_problem({"hot": hot, "warm": warm}, ("hot", "warm"))


_JSON_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
    "number": lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool))
    and math.isfinite(v),
}


def _resolve(ref: str) -> dict:
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise AssertionError(f"unsupported $ref {ref}")
    return definition(ref[len(prefix):])


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def validate(value: Any, sch: dict, path: str = "$") -> None:
    """Raise SchemaError if `value` does not match `sch` (a schema from protocol.schema.json)."""
    if "$ref" in sch:
        validate(value, _resolve(sch["$ref"]), path)
    if "oneOf" in sch:
        matches = 0
        errors = []
        for branch in sch["oneOf"]:
            try:
                validate(value, branch, path)
                matches += 1
            except SchemaError as e:
                errors.append(str(e))
        if matches != 1:
            detail = "; ".join(errors[:3]) if matches == 0 else f"{matches} alternatives match"
            raise SchemaError(f"{path}: matches no single alternative ({detail})")
    if "type" in sch:
        types = sch["type"] if isinstance(sch["type"], list) else [sch["type"]]
        if not any(_JSON_TYPES[t](value) for t in types):
            raise SchemaError(f"{path}: expected {' or '.join(types)}, got {_describe(value)}")
    if "const" in sch and not _same(value, sch["const"]):
        raise SchemaError(f"{path}: must be {json.dumps(sch['const'])}, got {_describe(value)}")
    if "enum" in sch and not any(_same(value, e) for e in sch["enum"]):
        raise SchemaError(f"{path}: must be one of {', '.join(json.dumps(e) for e in sch['enum'])}, got {_describe(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SchemaError(f"{path}: must be a finite number, got {value}")
        if "minimum" in sch and value < sch["minimum"]:
            raise SchemaError(f"{path}: must be >= {sch['minimum']}, got {value}")
        if "maximum" in sch and value > sch["maximum"]:
            raise SchemaError(f"{path}: must be <= {sch['maximum']}, got {value}")
    if isinstance(value, str):
        if "minLength" in sch and len(value) < sch["minLength"]:
            raise SchemaError(f"{path}: must have at least {sch['minLength']} characters")
        if "maxLength" in sch and len(value) > sch["maxLength"]:
            raise SchemaError(f"{path}: must have at most {sch['maxLength']} characters")
        # JSON Schema patterns are ECMA-262: a final `$` is the end of the text, which is Python's `\Z`.
        if "pattern" in sch and re.search(re.sub(r"(?<!\\)\$$", r"\\Z", sch["pattern"]), value) is None:
            raise SchemaError(f"{path}: must match {sch['pattern']}")
    if isinstance(value, dict):
        for key in sch.get("required", []):
            if key not in value:
                raise SchemaError(f"{path}: missing required field '{key}'")
        props = sch.get("properties", {})
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{path}.{key}")
            elif sch.get("additionalProperties") is False:
                raise SchemaError(f"{path}: unknown field '{key}'")
        if "x-ordered" in sch and (problem := order_problem(value, sch["x-ordered"])):
            raise SchemaError(f"{path}: {problem}")
    if isinstance(value, list) and "items" in sch:
        for i, item in enumerate(value):
            validate(item, sch["items"], f"{path}[{i}]")


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_event(event: dict) -> None:
    validate(event, definition("Event"), "event")


def control_types() -> dict[str, str]:
    """Control `type` value -> name of its definition (generated from the schema's Control alternatives)."""
    return dict(CONTROL_DEFS)
