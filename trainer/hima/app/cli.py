"""`python -m hima train ...`: flags -> TrainConfig -> Trainer.

stdout carries protocol events and nothing else: the real stdout is kept for the EventWriter and file
descriptor 1 is pointed at stderr, so a stray print() (ours, torch's, a C library's) cannot corrupt
the event stream. Exit codes: 0 after `done`, 2 for bad input (flags, config, data, checkpoint),
1 for a failure during training (after an `error` event).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import IO

from .base_weights import load_base
from .checkpoint import CheckpointError, atomic_write, load_checkpoint
from .config import METHODS, ConfigError, load_config_file, resolve_config
from .control import ControlReader, ControlSocket
from .data import DataError
from .events import EventWriter
from .signals import StopSignals, stop_when_launcher_dies
from .model import MODEL_PRESETS
from ..protocol import RUN_FOLDER, is_run_id
from ..protocol_generated import STRATEGIES
from .run_folder import DiskFullError, open_entry, private_folder, refuse_links

log = logging.getLogger("hima")
TRAINER_INFO = RUN_FOLDER["trainer_record"]
LOCK_FILE = RUN_FOLDER["trainer_lock"]
# Test hook, set only by trainer/tests/test_stop_race.py: rank 0 sleeps this many seconds right after writing
# trainer.json (its JoinGuard, if any, already holding SIGTERM), as a slow start-up (big model, rendezvous) would.
SLOW_START_ENV = "HIMA_TEST_SLOW_START"

# flag dest -> TrainConfig field, for flags that map one to one.
_FLAG_FIELDS = (
    "preset", "data", "out", "max_steps", "method", "hot", "warm", "run_id", "device", "seed",
    "batch_size", "lr", "eval_every", "checkpoint_every", "init_from", "strategy",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hima", description="HiMA: Hot/Warm/Cold tiered training")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a GPT-2 preset on token files, emitting protocol events on stdout")
    train.add_argument("--preset", choices=sorted(MODEL_PRESETS))
    train.add_argument("--config", help="JSON file with TrainConfig fields (flags win over it)")
    train.add_argument("--data", help="directory with train.bin, val.bin, meta.json")
    train.add_argument("--out", help="run directory (events.jsonl, checkpoints/)")
    train.add_argument("--max-steps", type=int)
    train.add_argument("--method", choices=METHODS)
    train.add_argument("--hot", type=float, help="Hot cutoff: fraction of parameter elements")
    train.add_argument("--warm", type=float, help="Warm cutoff: cumulative fraction of parameter elements (>= hot)")
    train.add_argument("--run-id")
    train.add_argument("--device", help="auto (cuda, then cpu), cpu, cuda, cuda:N or mps")
    train.add_argument("--seed", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--eval-every", type=int)
    train.add_argument("--checkpoint-every", type=int)
    train.add_argument("--strategy", choices=STRATEGIES, help="replicated (every rank holds the whole model; the default) "
                       "or fsdp2 (parameters, gradients and optimizer state sharded over the ranks)")
    train.add_argument("--compile", action="store_true", default=None, help="torch.compile each transformer block")
    train.add_argument("--init-from", help="start from these weights (a HiMA checkpoint, checkpoints/ folder, run folder, "
                       "or a torch.save'd state dict) with a fresh optimizer and schedule: fine-tuning")
    train.add_argument("--resume", help="checkpoint file, checkpoints/ folder or run folder to continue from")
    train.add_argument("--quiet-stdout", action="store_true", help="write events only to <out>/events.jsonl")
    train.add_argument("--control-socket", help="also read control lines from a Unix socket at this path (e.g. <out>/control.sock)")
    train.add_argument("--check", action="store_true", help="check the flags, config file, data folder and HiMA settings, "
                       "then exit (0: fine; 2: the problem on stderr) without creating the run folder or the model")
    return parser


def _flag_values(args: argparse.Namespace) -> dict:
    values = {k: getattr(args, k) for k in _FLAG_FIELDS if getattr(args, k) is not None}
    if args.compile:
        values["compile"] = True
    return values


def _take_stdout_for_events() -> IO[str] | None:
    """A private handle on the real stdout for events; fd 1 and sys.stdout then go to stderr.
    None when the trainer was started without a stdout (a detached launch may close it)."""
    sys.stdout.flush()
    try:
        events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    except OSError:
        return None
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def _lock_run_folder(out: str) -> int:
    """One trainer per run folder: two writing the same events.jsonl would interleave two runs.
    The lock is held by an open descriptor, so the kernel releases it when the process dies (even SIGKILL)."""
    private_folder(out)  # 0700 when created here, whatever the umask
    path = os.path.join(out, LOCK_FILE)
    fd = open_entry(path, os.O_RDWR | os.O_CREAT)
    try:
        import fcntl
    except ImportError:
        return fd  # Windows: no advisory locks here; the extension starts one trainer per run
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(f"run folder {out} is in use by another trainer (see {os.path.join(out, TRAINER_INFO)})") from None
    return fd


def write_trainer_info(out: str, run_id: str, control_socket: str | None, argv: list[str], writer: str = "trainer") -> str:
    """<out>/trainer.json: how a window that did not start this run finds it (pid for SIGTERM, socket).
    ``writer``: "trainer" (this CLI) or "monitor" (a user's loop through RunMonitor). The caller holds the run
    folder's lock (_lock_run_folder) open: readers take the pid for the writer only while it has that file open."""
    path = os.path.join(out, TRAINER_INFO)
    info = {"pid": os.getpid(), "started": int(time.time()), "run_id": run_id, "control_socket": control_socket,
            "argv": argv, "writer": writer}
    atomic_write(path, lambda f: f.write((json.dumps(info) + "\n").encode()))
    return path


def _default_run_id(out: str) -> str:
    name = os.path.basename(os.path.normpath(out))
    return name if is_run_id(name) else "run"


def main(argv: list[str] | None = None) -> int:
    # Bit-reproducible MKL results (resume must replay the same losses on CPU). Without it MKL may pick
    # code paths by buffer alignment, which differs between an uninterrupted and a resumed process.
    # Read by MKL at its first call, which comes after this line.
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="hima: %(message)s")
    args = build_parser().parse_args(argv)
    from .train import Trainer, check_config

    # Before anything slow: a Stop pressed while the model builds or the ranks meet ends the run with `done`,
    # not with Python's default death by SIGTERM (exit 143, which reads as a failed run).
    stop_signals = StopSignals().install()
    if int(os.environ.get("RANK", "0")) == 0:  # a stop goes to rank 0 (trainer.json's pid); it stops every rank
        stop_when_launcher_dies()
    command = [sys.executable, "-m", "hima", *(sys.argv[1:] if argv is None else argv)]
    # Under torchrun, rank 0 alone writes events, reads controls and holds the run folder; other ranks'
    # errors reach the stream through rank 0 (hima.app.distributed).
    rank = int(os.environ.get("RANK", "0"))
    stdout_events = _take_stdout_for_events()
    event_stream = None if args.quiet_stdout or rank > 0 else stdout_events
    events: EventWriter | None = None
    channel: ControlSocket | None = None
    join_guard = None
    try:
        file_values = load_config_file(args.config) if args.config else {}
        resume = None
        if args.resume:
            resume = load_checkpoint(args.resume)
            # Continue with the checkpoint's settings; the config file and flags may override (e.g. --max-steps).
            run_dir = os.path.dirname(os.path.dirname(os.path.abspath(resume["path"])))
            # The run id follows the run folder (flag or default below), not the checkpoint's run.
            previous = {k: v for k, v in resume["config"].items() if k != "run_id"}
            file_values = {**previous, "out": run_dir, **file_values}
        cfg = resolve_config(file_values, _flag_values(args))
        if cfg.run_id is None:
            cfg.run_id = _default_run_id(cfg.out)
        if args.check:  # launchers ask this before they make the run folder (src/run/configCheck.ts)
            check_config(cfg)
            log.info("configuration ok: preset %s, method %s, %d steps, data %s", cfg.preset, cfg.method, cfg.max_steps, cfg.data)
            return 0
        # Read before the run folder is made: a missing or damaged base leaves nothing behind.
        base = load_base(cfg.init_from) if cfg.init_from and resume is None else None
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if rank > 0:
            from .rank_watch import FollowerEvents, RankReports

            events = FollowerEvents(RankReports(cfg.out, rank, world_size))
            controls = None
        else:
            run_lock = _lock_run_folder(cfg.out)  # noqa: F841 -- held (open) until the process exits
            refuse_links(cfg.out)
            events = EventWriter(cfg.out, event_stream)
            controls = ControlReader(sys.stdin.fileno())
            if args.control_socket:
                channel = ControlSocket(args.control_socket, controls.lines, cfg.out)
            write_trainer_info(cfg.out, cfg.run_id, channel.path if channel else None, command)
            if world_size > 1:
                from .signals import JoinGuard

                # From here on torchrun's SIGTERM (sent when a peer fails during start-up) waits for the peer
                # watch to report that peer (hima.app.rank_watch); released once the process group exists, when a
                # held SIGTERM goes on to stop_signals.
                join_guard = JoinGuard()
            time.sleep(float(os.environ.get(SLOW_START_ENV, "0")))
        trainer = Trainer(cfg, events, controls, resume, join_guard=join_guard, stop_signals=stop_signals, base=base)
    except (ConfigError, DataError, CheckpointError, ValueError, OSError) as e:
        return _start_failed(e, str(e), 2, events, event_stream, channel)
    except Exception as e:  # e.g. a CUDA error: under torchrun, rank 0 must learn of another rank's too
        return _start_failed(e, f"{type(e).__name__}: {e}", 1, events, event_stream, channel)
    try:
        return _train(trainer, events, cfg)
    finally:
        if channel is not None:
            channel.close()


def _start_failed(error: Exception, message: str, code: int, events, event_stream, channel) -> int:
    """Report a failure before training started as an `error` event (a follower rank: its error file)."""
    if channel is not None:
        channel.close()
    if code == 2:
        log.error("%s", error)
    else:
        log.error("starting the run failed", exc_info=error)
    if events is None:
        events = EventWriter(None, event_stream)
    events.try_emit("error", message=message, fatal=True, rank=None)
    return code


def _failure_message(error: Exception, trainer) -> str:
    if isinstance(error, DiskFullError):
        kept = f"the last checkpoint, {trainer.last_checkpoint}, is kept" if trainer.last_checkpoint else "no checkpoint was written"
        return f"{error}; training stopped at step {trainer.step} ({kept}). Free some space and resume the run."
    return f"{type(error).__name__}: {error}"


def _train(trainer, events: EventWriter, cfg) -> int:
    from .train import NonFiniteLoss

    log.info("run %s: %s, method %s, %d steps from step %d, device %s -> %s",
             cfg.run_id, cfg.preset, cfg.method, cfg.max_steps, trainer.step, trainer.device, cfg.out)
    try:
        reason = trainer.run()
    except Exception as e:
        if isinstance(e, DiskFullError):
            log.error("%s", e)  # the message says it all; a traceback would bury it
        else:
            log.exception("training failed")
        cause = {"cause": "non_finite_loss"} if isinstance(e, NonFiniteLoss) else {}
        events.try_emit("error", message=_failure_message(e, trainer), fatal=True, rank=None, **cause)
        try:
            trainer.emit_done("error")  # wall time since the run started, not since boot
        except Exception:
            pass  # the error event above is what matters
        events.close()
        return 1
    events.close()
    log.info("done (%s) at step %d", reason, trainer.step)
    return 0
