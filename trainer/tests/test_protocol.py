import json
import math
from pathlib import Path

import jsonschema
import pytest

from hima.protocol import SchemaError, definition, schema, validate, validate_event

REPO_SCHEMA = Path(__file__).resolve().parents[2] / "protocol" / "hima.schema.json"


def test_package_schema_is_the_generated_copy_of_the_protocol():
    assert schema() == json.loads(REPO_SCHEMA.read_text())


GOOD = [
    {"v": 1, "type": "eval", "step": 3, "val_loss": 2.5},
    {"v": 1, "type": "rejected", "id": None, "reason": "bad"},
    {"v": 1, "type": "ack", "id": "a", "control": "pause", "effective_step": 0},
]
BAD = [
    {"v": 2, "type": "eval", "step": 3, "val_loss": 2.5},  # wrong version
    {"v": 1, "type": "eval", "step": -1, "val_loss": 2.5},  # below minimum
    {"v": 1, "type": "eval", "step": 3},  # missing field
    {"v": 1, "type": "eval", "step": 3, "val_loss": 2.5, "extra": 1},  # unknown field
    {"v": 1, "type": "eval", "step": True, "val_loss": 2.5},  # bool is not an integer
    {"v": 1, "type": "status", "step": 3, "state": "sleeping"},  # not in enum
    {"v": 1, "type": "eval", "step": 3, "val_loss": math.nan},
]


@pytest.mark.parametrize("event", GOOD)
def test_validator_accepts_what_jsonschema_accepts(event):
    jsonschema.validate({"event": event}, schema())
    validate_event(event)


@pytest.mark.parametrize("event", BAD)
def test_validator_rejects_what_jsonschema_rejects(event):
    if not any(isinstance(v, float) and math.isnan(v) for v in event.values()):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"event": event}, schema())
    with pytest.raises(SchemaError):
        validate_event(event)


def test_error_messages_say_where():
    with pytest.raises(SchemaError, match=r"control\.hot: must be <= 1"):
        validate({"v": 1, "type": "set_cutoffs", "id": "x", "hot": 2, "warm": 1}, definition("SetCutoffsControl"), "control")


def test_generated_python_constants_match_the_schema():
    from hima import protocol_generated as g

    defs = json.loads(REPO_SCHEMA.read_text())["$defs"]
    assert g.PROTOCOL_VERSION == defs["ProtocolVersion"]["const"]
    assert g.RUN_ID_PATTERN == defs["RunId"]["pattern"]
    assert g.RUN_FOLDER == {k: v["const"] for k, v in defs["RunFolder"]["properties"].items()}
    assert g.DEFAULT_CUTOFFS == defs["Cutoffs"]["default"]
    assert list(g.TIERS) == defs["Tier"]["enum"] and list(g.METHODS) == defs["Method"]["enum"]
