"""The fsdp2 strategy on CPU (gloo): FSDP2's fully_shard under the real launcher and the real trainer.

A sharded run must train like the replicated one (same losses, same tiers, same gradient bytes), send no
reduce-scatter for Cold tensors (bytes counted at the reduce-scatter itself), hold 1/N of the optimizer state
per rank, and write checkpoints through torch.distributed.checkpoint that resume on another number of ranks
(1 and 3 after saving on 2) with the same losses as the run that went on. A crafted checkpoint is refused
before anything in it is unpickled.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from conftest import events_of, trainer_cmd
from hima.app.checkpoint import CheckpointError, load_checkpoint
from hima.app.config import ConfigError, resolve_config
from test_distributed import check_events, of_type, run_torchrun, torchrun_cmd, with_settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo + torchrun standalone on Linux/macOS")


def run_ranks(data, out, config, *extra, nproc: int, timeout: float = 180) -> list[dict]:
    """The trainer under torchrun with ``nproc`` ranks (one: a plain process); its events, after a clean exit."""
    cmd = torchrun_cmd(data, out, config, *extra, nproc=nproc) if nproc > 1 else trainer_cmd(data, out, config, *extra)
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    events = events_of(proc.stdout)
    check_events(events)
    return events


def losses(events) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in of_type(events, "step")}


def tiers(events) -> list[tuple[int, dict]]:
    return [(e["step"], {t["name"]: t["tier"] for t in e["tensors"]}) for e in of_type(events, "tiers")]


def reduced(events) -> list[tuple[int, float]]:
    return [(e["step"], e["ranks"]["allreduce_bytes_per_step"]) for e in of_type(events, "memory")]


def test_sharded_run_trains_like_the_replicated_one_and_resumes_on_other_rank_counts(token_dir, fast_config, tmp_path):
    # Warm tier, probes and re-tiers every 5 steps (fast_config); a global batch that 1, 2 and 3 ranks divide.
    config = with_settings(fast_config, tmp_path, "sharded", strategy="fsdp2", batch_size=6, checkpoint_every=6)
    steps = ["--max-steps", "12"]
    sharded = run_ranks(token_dir, tmp_path / "sharded", config, *steps, nproc=2)
    replicated = run_ranks(token_dir, tmp_path / "replicated", with_settings(config, tmp_path, "rep", strategy="replicated"), *steps, nproc=2)

    hello = of_type(sharded, "hello")[0]
    assert (hello["strategy"], hello["nproc"], hello["nnodes"]) == ("fsdp2", 2, 1)
    assert of_type(replicated, "hello")[0]["strategy"] == "replicated"
    # The same global batch and the same averaged gradients (reduce-scatter instead of all-reduce): the same
    # run up to float rounding, the same tiers at every re-tier, the same gradient bytes at every memory event.
    assert list(losses(sharded).values()) == pytest.approx(list(losses(replicated).values()), rel=1e-5, abs=1e-6)
    assert tiers(sharded) == tiers(replicated)
    assert any(t == "cold" for _, ts in tiers(sharded) for t in ts.values())
    assert any(t == "warm" for _, ts in tiers(sharded) for t in ts.values())
    assert reduced(sharded) == reduced(replicated)
    # Optimizer state per rank: half of each tensor's moments (2 ranks), none for Cold.
    memory, memory_rep = of_type(sharded, "memory")[-1], of_type(replicated, "memory")[-1]
    assert memory["full_optimizer_state_bytes"] * 2 == memory_rep["full_optimizer_state_bytes"]
    assert memory["optimizer_state_bytes"]["cold"] == 0 and memory["evicted_bytes"] > 0
    assert memory["optimizer_state_bytes"]["total"] < memory["full_optimizer_state_bytes"]

    # Saved on 2 ranks at step 6 (Cold moments offloaded), resumed on 1 and on 3: steps 7..12 as the 2-rank run.
    checkpoint = tmp_path / "sharded" / "checkpoints" / "ckpt-00000006.dcp"
    record = json.loads((checkpoint / "hima.json").read_text())
    assert record["world_size"] == 2 and record["hima"]["evicted"]["moved"]
    expected = {s: v for s, v in losses(sharded).items() if s > 6}
    for nproc in (1, 3):
        run_dir = tmp_path / f"resumed-{nproc}"
        shutil.copytree(tmp_path / "sharded", run_dir)
        resumed = run_ranks(token_dir, run_dir, config, "--resume", str(run_dir / "checkpoints" / "ckpt-00000006.dcp"), *steps, nproc=nproc)
        assert of_type(resumed, "hello")[0]["start_step"] == 6 and of_type(resumed, "hello")[0]["nproc"] == nproc
        assert losses(resumed) == pytest.approx(expected, rel=1e-4, abs=1e-5)
        assert tiers(resumed)[-1] == tiers(sharded)[-1]
        assert of_type(resumed, "done")[0]["reason"] == "completed"


def test_cold_tensors_get_no_reduce_scatter(token_dir, fast_config, tmp_path):
    # No Warm tier, no probes: after the re-tier at step 5 only Hot tensors have gradients.
    config = with_settings(fast_config, tmp_path, "cold", strategy="fsdp2", probe_every=0, eval_every=0)
    result = run_torchrun(token_dir, tmp_path / "cold", config, "--max-steps", "10", "--hot", "0.4", "--warm", "0.4")
    assert result.returncode == 0, result.stderr[-4000:]
    events = events_of(result.stdout)
    n_params = of_type(events, "hello")[0]["model"]["n_params"]
    retier = next(e for e in of_type(events, "tiers") if e["step"] == 5)
    hot_elements = retier["counts"]["hot"]["elements"]
    assert retier["counts"]["cold"]["elements"] > 0.3 * n_params
    by_step = dict(reduced(events))
    # Counted at FSDP2's reduce-scatter (its input: the unsharded gradients, fp32): steps 1..5 every tensor,
    # steps 6..10 exactly the Hot ones.
    assert by_step[5] == 4 * n_params
    assert by_step[10] == 4 * hot_elements < 0.7 * 4 * n_params


def test_fsdp2_is_refused_with_settings_it_cannot_honour():
    base = {"data": "d", "out": "o"}
    with pytest.raises(ConfigError, match="strategy must be one of replicated, fsdp2"):
        resolve_config({"strategy": "zero3"}, base)
    with pytest.raises(ConfigError, match="grad_sync 'ddp' is a replicated reduction"):
        resolve_config({"strategy": "fsdp2", "grad_sync": "ddp", "method": "full"}, base)
    with pytest.raises(ConfigError, match="compile is not supported with strategy 'fsdp2'"):
        resolve_config({"strategy": "fsdp2", "compile": True}, base)
    assert resolve_config({}, base).strategy == "replicated"


@pytest.fixture
def group_of_one():
    """A one-process gloo group in this test process, as the trainer makes for fsdp2 without torchrun."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_cold_state_of_a_sharded_tensor_is_offloaded_per_shard_and_comes_back_intact(group_of_one):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    from hima import HiMA, HiMAConfig

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 2))
    fully_shard(model, mesh=init_device_mesh("cpu", (1,)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, optimizer, HiMAConfig(method="hima", layout="tensor", first_retier=1000, retier_every=1000))
    model(torch.randn(4, 8)).pow(2).mean().backward()
    hima.step()
    hima.zero_grad()
    name = "0.weight"
    param = dict(model.named_parameters())[name]
    before = {k: v.full_tensor().clone() for k, v in optimizer.state[param].items() if isinstance(v, DTensor)}
    assert before and hima.optimizer_state_bytes()["total"] == hima.full_optimizer_state_bytes()
    hima.pin(name, "cold")
    assert param not in optimizer.state and hima.evicted_bytes() == 2 * 8 * 8 * 4
    saved = hima.state_dict()["optimizer"]["state"][name]  # what a sharded checkpoint writes: DTensors over host memory
    assert all(isinstance(saved[k], DTensor) and saved[k].to_local().device.type == "cpu" for k in before)
    hima.unpin(name)
    hima.pin(name, "hot")
    after = optimizer.state[param]
    assert all(isinstance(after[k], DTensor) and torch.equal(after[k].full_tensor(), before[k]) for k in before)


def test_a_crafted_sharded_checkpoint_is_refused_before_anything_is_unpickled(tmp_path):
    folder = tmp_path / "run" / "checkpoints" / "ckpt-00000001.dcp"
    folder.mkdir(parents=True)
    record = {"format": "hima-sharded-checkpoint", "format_version": 1, "step": 1, "config": {}, "model_config": {},
              "hima": {}, "param_groups": [], "optim_keys": {}}
    (folder / "hima.json").write_text(json.dumps(record))

    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    (folder / ".metadata").write_bytes(pickle.dumps({"x": Exploit()}))
    with pytest.raises(CheckpointError, match=r"would import (posix|os)\.system.*refusing to load it"):
        load_checkpoint(str(tmp_path / "run" / "checkpoints" / "ckpt-00000001.dcp"))
    assert not (tmp_path / "pwned").exists()
    (folder / "hima.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt or unreadable"):
        load_checkpoint(str(folder))
