"""The shared protocol vectors (protocol/vectors/*.json), judged by the trainer: the same cases
test/unit/protocolVectors.test.ts gives the extension, so both sides of the contract agree."""
import json
from pathlib import Path

import jsonschema
import pytest

from hima.app.control import ControlRejected, parse_control
from hima.protocol import SchemaError, definition, is_run_id, schema, validate, validate_event
from hima.tiering import validate_cutoffs

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def cases(name: str, kind: str) -> list:
    data = json.loads((VECTORS / f"{name}.json").read_text())
    return data[kind] if kind == "valid" else [pytest.param(c["value"], id=c["why"]) for c in data[kind]]


@pytest.mark.parametrize("event", cases("events", "valid"))
def test_valid_events(event):
    jsonschema.validate({"event": event}, schema())
    validate_event(event)


@pytest.mark.parametrize("event", cases("events", "invalid"))
def test_invalid_events(event):
    with pytest.raises(jsonschema.ValidationError):  # the package agrees with hima.protocol's small validator
        jsonschema.validate({"event": event}, schema())
    with pytest.raises(SchemaError):
        validate_event(event)


def control_line(control) -> bytes:
    return json.dumps(control).encode()


@pytest.mark.parametrize("control", cases("controls", "valid"))
def test_valid_controls(control):
    assert parse_control(control_line(control)) == control


@pytest.mark.parametrize("control", cases("controls", "invalid"))
def test_invalid_controls(control):
    with pytest.raises(ControlRejected):
        parse_control(control_line(control))


@pytest.mark.parametrize("pair", cases("cutoffs", "valid"))
def test_valid_cutoffs(pair):
    hot, warm = pair
    assert validate_cutoffs(hot, warm) == (hot, warm)
    parse_control(control_line({"v": 1, "type": "set_cutoffs", "id": "c", "hot": hot, "warm": warm}))


@pytest.mark.parametrize("pair", cases("cutoffs", "invalid"))
def test_invalid_cutoffs(pair):
    hot, warm = pair
    with pytest.raises(ValueError):
        validate_cutoffs(hot, warm)
    with pytest.raises(ControlRejected):
        parse_control(control_line({"v": 1, "type": "set_cutoffs", "id": "c", "hot": hot, "warm": warm}))


@pytest.mark.parametrize("record", cases("trainer-records", "valid"))
def test_valid_trainer_records(record):
    validate(record, definition("TrainerRecord"), "trainer record")


@pytest.mark.parametrize("record", cases("trainer-records", "invalid"))
def test_invalid_trainer_records(record):
    with pytest.raises(SchemaError):
        validate(record, definition("TrainerRecord"), "trainer record")


def test_the_trainer_writes_a_valid_trainer_record(tmp_path):
    from hima.app.cli import write_trainer_info

    path = write_trainer_info(str(tmp_path), "r-1", str(tmp_path / "control.sock"), ["-m", "hima", "train"])
    record = json.loads(Path(path).read_text())
    validate(record, definition("TrainerRecord"), "trainer record")
    assert record["writer"] == "trainer"


@pytest.mark.parametrize("run_id", cases("run-ids", "valid"))
def test_valid_run_ids(run_id):
    assert is_run_id(run_id)
    validate(run_id, definition("RunId"))


@pytest.mark.parametrize("run_id", cases("run-ids", "invalid"))
def test_invalid_run_ids(run_id):
    assert not is_run_id(run_id)
    with pytest.raises(SchemaError):
        validate(run_id, definition("RunId"))
