"""Control lines are parsed into a schema-valid object or a rejection with a reason a user can act on."""
import json

import pytest

from hima.app.control import MAX_LINE_BYTES, TOO_LONG, ControlRejected, parse_control


def ok(obj) -> dict:
    return parse_control(json.dumps(obj).encode())


def rejected(raw) -> ControlRejected:
    with pytest.raises(ControlRejected) as info:
        parse_control(raw if isinstance(raw, bytes) or raw is TOO_LONG else json.dumps(raw).encode())
    return info.value


def test_valid_controls_pass():
    assert ok({"v": 1, "type": "set_cutoffs", "id": "c1", "hot": 0.2, "warm": 0.5})["hot"] == 0.2
    assert ok({"v": 1, "type": "pin", "id": "c2", "name": "x", "tier": "cold"})["tier"] == "cold"
    for kind in ("pause", "resume", "checkpoint", "stop"):
        assert ok({"v": 1, "type": kind, "id": "k"})["type"] == kind


@pytest.mark.parametrize(
    "raw, control_id, reason",
    [
        (b"{nope", None, "not valid JSON"),
        (b"[1, 2]", None, "must be a JSON object"),
        (b'{"v":1,"type":"set_cutoffs","id":"n","hot":NaN,"warm":0.5}', None, "NaN"),
        (b'{"v":1,"type":"set_cutoffs","id":"n","hot":0.1,"warm":Infinity}', None, "Infinity"),
        (b"\xff\xfe", None, "UTF-8"),
        ({"v": 1, "type": "explode", "id": "u"}, "u", "unknown control type"),
        ({"v": 1, "type": "pause"}, None, "missing required field 'id'"),
        ({"v": 1, "type": "set_cutoffs", "id": "r", "hot": -0.1, "warm": 0.5}, "r", "hot: must be >= 0"),
        ({"v": 1, "type": "set_cutoffs", "id": "r", "hot": 0.1, "warm": 1.5}, "r", "warm: must be <= 1"),
        ({"v": 1, "type": "set_cutoffs", "id": "hw", "hot": 0.7, "warm": 0.3}, "hw", "must not exceed warm"),
        ({"v": 1, "type": "set_cutoffs", "id": "s", "hot": "0.1", "warm": 0.3}, "s", "expected number"),
        ({"v": 2, "type": "stop", "id": "v"}, "v", "control.v"),
        ({"v": 1, "type": "pin", "id": "t", "name": "x", "tier": "lukewarm"}, "t", "must be one of"),
        ({"v": 1, "type": "stop", "id": "e", "extra": True}, "e", "unknown field 'extra'"),
        (TOO_LONG, None, f"longer than {MAX_LINE_BYTES}"),
        (b"[" * 100_000, None, "not valid JSON"),
    ],
)
def test_bad_controls_are_rejected_with_reason(raw, control_id, reason):
    err = rejected(raw)
    assert err.control_id == control_id
    assert reason in err.reason
