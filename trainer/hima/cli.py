"""`python -m hima train ...`: flags -> TrainConfig -> Trainer.

stdout carries protocol events and nothing else: the real stdout is kept for the EventWriter and file
descriptor 1 is pointed at stderr, so a stray print() (ours, torch's, a C library's) cannot corrupt
the event stream. Exit codes: 0 after `done`, 2 for bad input (flags, config, data, checkpoint),
1 for a failure during training (after an `error` event).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import IO

from .checkpoint import CheckpointError, load_checkpoint
from .config import METHODS, RUN_ID, ConfigError, load_config_file, resolve_config
from .control import ControlReader
from .data import DataError
from .events import EventWriter
from .model import MODEL_PRESETS

log = logging.getLogger("hima")

# flag dest -> TrainConfig field, for flags that map one to one.
_FLAG_FIELDS = (
    "preset", "data", "out", "max_steps", "method", "hot", "warm", "run_id", "device", "seed",
    "batch_size", "lr", "eval_every", "checkpoint_every",
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
    train.add_argument("--compile", action="store_true", default=None, help="torch.compile each transformer block")
    train.add_argument("--resume", help="checkpoint file, checkpoints/ folder or run folder to continue from")
    train.add_argument("--quiet-stdout", action="store_true", help="write events only to <out>/events.jsonl")
    return parser


def _flag_values(args: argparse.Namespace) -> dict:
    values = {k: getattr(args, k) for k in _FLAG_FIELDS if getattr(args, k) is not None}
    if args.compile:
        values["compile"] = True
    return values


def _take_stdout_for_events() -> IO[str]:
    """A private handle on the real stdout for events; fd 1 and sys.stdout then go to stderr."""
    sys.stdout.flush()
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def _default_run_id(out: str) -> str:
    name = os.path.basename(os.path.normpath(out))
    return name if RUN_ID.match(name) else "run"


def main(argv: list[str] | None = None) -> int:
    # Bit-reproducible MKL results (resume must replay the same losses on CPU). Without it MKL may pick
    # code paths by buffer alignment, which differs between an uninterrupted and a resumed process.
    # Read by MKL at its first call, which comes after this line.
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="hima: %(message)s")
    args = build_parser().parse_args(argv)
    event_stream = _take_stdout_for_events()
    events: EventWriter | None = None
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
        events = EventWriter(cfg.out, None if args.quiet_stdout else event_stream)
        from .train import Trainer, install_stop_signals  # imports torch + the engine: after arg checks

        trainer = Trainer(cfg, events, ControlReader(sys.stdin.fileno()), resume)
    except (ConfigError, DataError, CheckpointError, ValueError, OSError) as e:
        log.error("%s", e)
        if events is None:
            events = EventWriter(None, None if args.quiet_stdout else event_stream)
        events.emit("error", message=str(e), fatal=True, rank=None)
        return 2

    install_stop_signals(trainer)
    log.info("run %s: %s, method %s, %d steps from step %d, device %s -> %s",
             cfg.run_id, cfg.preset, cfg.method, cfg.max_steps, trainer.step, trainer.device, cfg.out)
    try:
        reason = trainer.run()
    except Exception as e:
        log.exception("training failed")
        events.emit("error", message=f"{type(e).__name__}: {e}", fatal=True, rank=None)
        try:
            trainer.emit_done("error", 0.0)
        except Exception:
            pass  # the error event above is what matters
        events.close()
        return 1
    events.close()
    log.info("done (%s) at step %d", reason, trainer.step)
    return 0
