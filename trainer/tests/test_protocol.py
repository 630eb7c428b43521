import json
import math
from pathlib import Path

import jsonschema
import pytest

from hima.protocol import SchemaError, definition, schema, validate, validate_event

REPO_SCHEMA = Path(__file__).resolve().parents[2] / "protocol" / "hima.schema.json"


def test_package_schema_is_the_generated_copy_of_the_protocol():
    assert schema() == json.loads(REPO_SCHEMA.read_text())


# Valid and invalid events, controls, cutoffs, trainer records and run ids: protocol/vectors/, shared with the
# extension's tests (test_protocol_vectors.py). NaN has no JSON form, so it is checked here.
def test_nan_is_not_a_number():
    with pytest.raises(SchemaError):
        validate_event({"v": 1, "type": "eval", "step": 3, "val_loss": math.nan})


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
