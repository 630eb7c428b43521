"""Shared fixtures: synthetic token files and a helper that runs the real trainer as a subprocess."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

VOCAB = 64
# Small but real: the tiny preset's architecture with a short context and batch, so a step takes ms.
FAST_CONFIG = {
    "batch_size": 4,
    "block_size": 32,
    "eval_every": 10,
    "eval_batches": 2,
    "warmup_steps": 5,
    "retier_every": 5,
    "first_retier": 5,
    "probe_every": 5,
    "memory_every": 5,
    "lr": 3e-3,
}


def write_tokens(folder: Path, n_train: int = 20_000, n_val: int = 2_000, vocab: int = VOCAB, seed: int = 0) -> Path:
    """A learnable synthetic language: each token mostly follows from the previous one."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def stream(n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.uint16)
        tok = 0
        for i in range(n):
            tok = (tok * 7 + 3) % vocab if rng.random() < 0.8 else int(rng.integers(vocab))
            out[i] = tok
        return out

    stream(n_train).astype("<u2").tofile(folder / "train.bin")
    stream(n_val).astype("<u2").tofile(folder / "val.bin")
    meta = {"tokenizer": "gpt2", "vocab_size": vocab, "n_train": n_train, "n_val": n_val, "source": "synthetic", "token_map": None}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="session")
def token_dir(tmp_path_factory) -> Path:
    return write_tokens(tmp_path_factory.mktemp("tokens"))


@pytest.fixture
def fast_config(tmp_path) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(FAST_CONFIG))
    return path


def trainer_cmd(data: Path, out: Path, config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hima", "train", "--preset", "tiny", "--config", str(config),
            "--data", str(data), "--out", str(out), "--device", "cpu", *extra]


def run_trainer(data: Path, out: Path, config: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the trainer to completion with stdin closed (EOF: no controls)."""
    return subprocess.run(trainer_cmd(data, out, config, *extra), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def read_events(out: Path) -> list[dict]:
    return events_of((out / "events.jsonl").read_text())


class LiveTrainer:
    """A trainer subprocess driven over stdin; a thread collects its stdout events so waits can time out."""

    def __init__(self, cmd: list[str]):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.events: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()

    def _pump(self, stream, into) -> None:
        for line in stream:
            if into is None:
                self._stderr.append(line)
            else:
                into.put(line)
        if into is not None:
            into.put(None)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def send(self, obj_or_line) -> None:
        line = obj_or_line if isinstance(obj_or_line, str) else json.dumps(obj_or_line)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def next_event(self, timeout: float = 30) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; stderr:\n{self.stderr[-3000:]}") from None
        if line is None:
            self._lines.put(None)
            raise AssertionError(f"trainer exited (code {self.proc.wait()}); stderr:\n{self.stderr[-3000:]}")
        event = json.loads(line)
        self.events.append(event)
        return event

    def wait_for(self, pred, timeout: float = 30) -> dict:
        """Read events until one satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.1, deadline - time.monotonic()))
            if pred(event):
                return event

    def finish(self, timeout: float = 60) -> int:
        """Wait for exit; collect the remaining events."""
        code = self.proc.wait(timeout=timeout)
        while True:
            try:
                self.next_event(5)
            except AssertionError:
                return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def live_trainer():
    started: list[LiveTrainer] = []

    def start(cmd: list[str]) -> LiveTrainer:
        t = LiveTrainer(cmd)
        started.append(t)
        return t

    yield start
    for t in started:
        t.kill()
