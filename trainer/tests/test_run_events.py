"""A short real run of `python -m hima train`: every event is valid, stdout holds only events, and the
run shows what the demo promises (three tiers, optimizer state below full AdamW, eval, done)."""
import json

import jsonschema

from conftest import events_of, read_events, run_trainer
from hima.protocol import schema, validate_event


def test_short_hima_run_emits_valid_events_and_shows_all_tiers(token_dir, fast_config, tmp_path):
    out = tmp_path / "run-a"
    proc = run_trainer(token_dir, out, fast_config, "--max-steps", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout_events = events_of(proc.stdout)  # fails if anything but JSON lines reached stdout
    assert stdout_events == read_events(out)  # the file and the stream agree, line for line

    full_schema = schema()
    for event in stdout_events:
        jsonschema.validate({"event": event}, full_schema)
        validate_event(event)

    types = [e["type"] for e in stdout_events]
    assert types[0] == "hello" and types[-1] == "done"
    hello = stdout_events[0]
    assert hello["run_id"] == "run-a" and hello["start_step"] == 0 and hello["model"]["preset"] == "tiny"
    assert {t["name"] for t in hello["tensors"]} >= {"transformer.wte.weight", "transformer.h.3.mlp.c_proj.weight"}
    assert [e["step"] for e in stdout_events if e["type"] == "step"] == list(range(1, 21))
    assert {"tiers", "memory", "eval", "checkpoint"} <= set(types)

    tiers = [e for e in stdout_events if e["type"] == "tiers"]
    assert any(all(e["counts"][t]["tensors"] > 0 for t in ("hot", "warm", "cold")) for e in tiers)
    assert any(e["transitions"] for e in tiers)
    assert all(len(e["tensors"]) == len(hello["tensors"]) for e in tiers)

    memory = [e for e in stdout_events if e["type"] == "memory"]
    assert any(0 < m["optimizer_state_bytes"]["total"] < m["full_optimizer_state_bytes"] and m["evicted_bytes"] > 0 for m in memory)
    assert all(m["optimizer_state_bytes"]["cold"] == 0 for m in memory)  # Cold state is evicted, not held
    assert all(m["rss_bytes"] and m["allocated_bytes"] is None for m in memory)  # CPU run

    done = stdout_events[-1]
    assert done["reason"] == "completed" and done["step"] == 20
    summary = done["summary"]
    assert summary["last_loss"] < summary["first_loss"]  # it learns
    assert summary["optimizer_state_bytes"] < summary["full_optimizer_state_bytes"]
    assert summary["checkpoint"] and (out / "checkpoints" / "latest").read_text().strip() in summary["checkpoint"]


def test_full_method_keeps_every_tensor_hot(token_dir, fast_config, tmp_path):
    proc = run_trainer(token_dir, tmp_path / "full", fast_config, "--max-steps", "6", "--method", "full", "--eval-every", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = events_of(proc.stdout)
    done = events[-1]["summary"]
    assert done["counts"]["warm"]["tensors"] == done["counts"]["cold"]["tensors"] == 0
    assert done["optimizer_state_bytes"] == done["full_optimizer_state_bytes"]


def test_bad_command_lines_exit_2_with_a_clear_message(token_dir, fast_config, tmp_path):
    missing = run_trainer(tmp_path / "no-data", tmp_path / "r1", fast_config)
    assert missing.returncode == 2 and "data directory not found" in missing.stderr
    event = json.loads(missing.stdout)
    assert event["type"] == "error" and event["fatal"] and "no-data" in event["message"]

    no_config = run_trainer(token_dir, tmp_path / "r2", tmp_path / "nope.json")
    assert no_config.returncode == 2 and "config file not found" in no_config.stderr

    bad_cutoffs = run_trainer(token_dir, tmp_path / "r3", fast_config, "--hot", "0.9", "--warm", "0.1")
    assert bad_cutoffs.returncode == 2 and "hot <= warm" in bad_cutoffs.stderr

    bad_flag = run_trainer(token_dir, tmp_path / "r4", fast_config, "--max-steps", "many")
    assert bad_flag.returncode == 2 and "--max-steps" in bad_flag.stderr
