"""A multi-process run shuts its process group down for real before the interpreter exits.

Seen in a fresh-clone test run: both ranks logged `done`, then rank 1 died of SIGABRT ("terminate called
without an active exception"), so torchrun exited 1. The cause: torch._dynamo, imported once the group
existed (HiMA imports it), kept the group alive past destroy_process_group(); its gloo worker threads then
released the last collective's tensors during interpreter shutdown and were killed inside a C++ destructor.
How often that race hit depended on load; whether the group's threads are gone after close() does not, so
that is what this checks, with the trainer's own Distributed and the import HiMA makes."""
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, sys, threading, time
    import torch
    from hima.app.distributed import Distributed
    from hima.compile import refuse_whole_model_compile

    d = Distributed(sys.argv[1], "cpu")
    refuse_whole_model_compile(torch.nn.Linear(2, 2), "hima")  # what HiMA() does: imports torch._dynamo
    d.min_max([1, 2])  # the collectives of the end of a run, then the barrier and the destroy
    d.close(clean=True)
    if d.watch is not None:
        d.watch.stop()
        d.watch._thread.join()
    # A thread that just finished (the watch) may take a moment to leave /proc; the group's threads never do.
    deadline = time.monotonic() + 5
    while (native := len(os.listdir("/proc/self/task"))) != threading.active_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    # A file per rank, not stdout: two ranks printing into torchrun's one pipe lost a line once under load.
    with open(os.path.join(sys.argv[2], f"rank-{d.rank}.txt"), "w") as f:
        f.write(f"rank {d.rank}: {native} threads, {threading.active_count()} of them Python's")
    sys.exit(0 if native == threading.active_count() else 3)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
def test_closing_the_process_group_ends_its_threads(tmp_path):
    script = tmp_path / "shutdown.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
         str(tmp_path / "run"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    reports = {p.name: p.read_text() for p in tmp_path.glob("rank-*.txt")}
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:] + str(reports)
    assert sorted(reports) == ["rank-0.txt", "rank-1.txt"], reports
