"""Hostile control input, fuzzed: whatever arrives on the control channel ends as a schema-valid control
or a ControlRejected whose `rejected` event is itself valid; the parser never raises anything else, and
the line splitter never loses, merges or invents a line."""
import json
import queue

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from hima.app.control import MAX_LINE_BYTES, TOO_LONG, ControlRejected, LineSplitter, control_types, parse_control
from hima.protocol import schema, validate_event

CONTROL_SCHEMA = jsonschema.Draft202012Validator({"$defs": schema()["$defs"], "$ref": "#/$defs/Control"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# Near misses: real control types and field names with arbitrary values, so validation is reached.
field_values = st.one_of(json_values, st.floats(min_value=-0.5, max_value=1.5), st.sampled_from(["hot", "warm", "cold", "x" * 200]))
near_controls = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 2, "1", 1.0, True]), "type": st.sampled_from(sorted(control_types()) + ["", "Pause"])},
    optional={"id": st.one_of(st.text(max_size=130), json_values), "hot": field_values, "warm": field_values,
              "name": field_values, "tier": field_values, "extra": json_values},
)


def outcome(raw) -> dict | ControlRejected:
    try:
        control = parse_control(raw)
    except ControlRejected as e:
        # What the trainer emits for it must itself be a valid event (id: a short string or null).
        validate_event({"v": 1, "type": "rejected", "id": e.control_id, "reason": e.reason})
        assert e.reason
        return e
    CONTROL_SCHEMA.validate(control)
    if control["type"] == "set_cutoffs":
        assert control["hot"] <= control["warm"]
    return control


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_a_rejection(raw):
    outcome(raw)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises_anything_but_a_rejection(value):
    result = outcome(json.dumps(value).encode())
    if not isinstance(value, dict):
        assert isinstance(result, ControlRejected)


@settings(max_examples=300, deadline=None)
@given(near_controls)
def test_near_miss_controls_are_valid_or_rejected_with_their_id(obj):
    result = outcome(json.dumps(obj).encode())
    if isinstance(result, ControlRejected) and isinstance(obj.get("id"), str) and 1 <= len(obj["id"]) <= 128:
        assert result.control_id in (obj["id"], None)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40) | st.sampled_from([b"\n", b"\n\n", b"x" * (MAX_LINE_BYTES + 1)]), max_size=20),
       st.integers(min_value=1, max_value=50))
def test_the_line_splitter_matches_a_plain_split_whatever_the_chunking(pieces, chunk):
    data = b"".join(pieces)
    lines: queue.Queue = queue.Queue()
    splitter = LineSplitter(lines)
    for i in range(0, len(data), chunk):
        splitter.feed(data[i:i + chunk])
    splitter.finish()
    got = []
    while not lines.empty():
        got.append(lines.get())
    expected = [TOO_LONG if len(line) > MAX_LINE_BYTES else line for line in data.split(b"\n") if line.strip()]
    assert got == expected
