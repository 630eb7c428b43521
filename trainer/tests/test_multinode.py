"""Two "machines" on one: two torchrun launchers with ``--nnodes 2`` and a c10d rendezvous (gloo, CPU).

Each launcher gets its own run folder, as two machines would each have their own disk: the rank on the other
node leaves its report files where rank 0 cannot see them, so only the process group's store
(``hima.app.heartbeats``) can tell rank 0 about it. A rank killed there must end the run with an error event
naming it within 60 s; a stop must end every rank at the same step.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import read_events, trainer_cmd
from test_distributed import TorchrunTrainer, check_events, of_type

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo + torchrun on Linux/macOS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_cmd(data, out, config, endpoint: str, run_id: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", run_id,
            *trainer_cmd(data, out, config, "--max-steps", "100000", "--eval-every", "0")[1:]]


class TwoNodes:
    """Two launchers; which one holds rank 0 is the rendezvous' choice, found from the run folders."""

    def __init__(self, data, tmp_path, config):
        endpoint, run_id = f"127.0.0.1:{free_port()}", uuid.uuid4().hex[:8]
        self.outs = [tmp_path / "node-a", tmp_path / "node-b"]
        self.launchers = [TorchrunTrainer(node_cmd(data, out, config, endpoint, run_id)) for out in self.outs]

    def wait_for_steps(self, steps: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for out in self.outs:
                if (out / "events.jsonl").exists() and any(e["type"] == "step" and e["step"] >= steps for e in read_events(out)):
                    return
            time.sleep(0.5)
        raise AssertionError("no steps: " + "\n".join(l.stderr[-2000:] for l in self.launchers))

    @property
    def main(self) -> int:
        """Index of the launcher whose node runs rank 0 (its folder holds the events)."""
        return next(i for i, out in enumerate(self.outs) if (out / "events.jsonl").exists())

    def other_rank(self) -> tuple[int, int]:
        """The rank on the other node, and its pid (from its own folder: rank 0 cannot read it)."""
        folder = self.outs[1 - self.main] / "ranks"
        (report,) = [p for p in folder.iterdir() if p.name.endswith(".json")]
        return int(report.name.split(".")[0]), json.loads(report.read_text())["pid"]

    def kill(self) -> None:
        for launcher in self.launchers:
            launcher.kill()


def test_a_rank_killed_on_the_other_node_ends_the_run_with_an_error_naming_it(token_dir, fast_config, tmp_path):
    nodes = TwoNodes(token_dir, tmp_path, fast_config)
    try:
        nodes.wait_for_steps(3)
        rank, pid = nodes.other_rank()
        assert rank == 1 and not (nodes.outs[nodes.main] / "ranks" / "1.json").exists()  # no shared disk
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        main = nodes.launchers[nodes.main]
        error = main.wait_for(lambda e: e["type"] == "error", timeout=60)
        assert time.monotonic() - killed < 60
        assert error["rank"] == 1 and error["fatal"] is True
        assert error["message"].startswith("rank 1 failed: no heartbeat for") and "node " in error["message"]
        assert main.proc.wait(timeout=90) != 0
    finally:
        nodes.kill()
    events = read_events(nodes.outs[nodes.main])
    check_events(events)
    assert of_type(events, "hello")[0]["nnodes"] == 2 and of_type(events, "hello")[0]["nproc"] == 2
    assert of_type(events, "done")[-1]["reason"] == "error"


def test_a_stop_ends_every_rank_on_both_nodes_at_the_same_step(token_dir, fast_config, tmp_path):
    nodes = TwoNodes(token_dir, tmp_path, fast_config)
    try:
        nodes.wait_for_steps(3)
        main = nodes.launchers[nodes.main]
        main.send({"v": 1, "type": "stop", "id": "s"})
        codes = [launcher.proc.wait(timeout=120) for launcher in nodes.launchers]
        assert codes == [0, 0], [l.stderr[-2000:] for l in nodes.launchers]
    finally:
        nodes.kill()
    events = read_events(nodes.outs[nodes.main])
    done = of_type(events, "done")[0]
    assert done["reason"] == "stopped"
    # The other node's rank wrote its clean end, with its step, into its own folder.
    other = json.loads((nodes.outs[1 - nodes.main] / "ranks" / "1.done").read_text())
    assert other["step"] == done["step"] == max(e["step"] for e in of_type(events, "step"))
