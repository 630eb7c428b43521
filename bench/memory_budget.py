"""The largest batch that trains under a fixed GPU memory budget: full AdamW against HiMA.

    PYTHONPATH=trainer python -m bench.memory_budget --budget-gib 24 --data data/gpu-corpus

The process is limited to ``--budget-gib`` with ``torch.cuda.set_per_process_memory_fraction``; for each method
the batch (sequences of ``--seq`` tokens) is doubled until a run of ``--steps`` steps fails with an out-of-memory
error, then bisected to ``--granularity``. HiMA runs with its Cold prefix from the first step (depth layout,
``first_retier`` 0), so what it frees counts from the start. Eager (no torch.compile): a compiled graph per
batch size would make the search a compile benchmark. Results: ``<out>/memory_budget.json`` and the summary
keys ``budget_gib``, ``max_batch_full``, ``max_batch_hima``.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys

import torch

from . import measure
from .report import update_summary
from .suite import RunSpec

METHODS = {
    "full": RunSpec("budget-full", "small", "full", engine=False, compile="none"),
    # HiMA at 50% Cold without Warm (what measured best), tiers from step 0.
    "hima": RunSpec("budget-hima-50", "small", "hima", 0.5, 0.5, compile="none", ramp=(0.0, 0.0), first_retier=0),
}


def fits(spec: RunSpec, settings: measure.SuiteSettings, batch: int, steps: int) -> bool:
    """Whether ``steps`` training steps at ``batch`` run within the process's memory limit."""
    setup = None
    try:
        setup = measure.build(spec, dataclasses.replace(settings, batch=batch), steps=steps)
        for step in range(steps):
            setup.train_step(*setup.batches.train_batch(step), 1e-4)
        torch.cuda.synchronize()
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        del setup
        gc.collect()
        torch.cuda.empty_cache()


def largest_batch(spec: RunSpec, settings: measure.SuiteSettings, steps: int, granularity: int, start: int) -> int:
    """Doubling from ``start``, then bisection: the largest batch that fits (0 when ``start`` does not)."""
    if not fits(spec, settings, start, steps):
        return 0
    lo, hi = start, start * 2
    while fits(spec, settings, hi, steps):
        lo, hi = hi, hi * 2
    while hi - lo > granularity:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(spec, settings, mid, steps) else (lo, mid)
    return lo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory_budget", description=__doc__.split("\n")[0])
    p.add_argument("--budget-gib", type=float, default=24.0)
    p.add_argument("--preset", default="small")
    p.add_argument("--data", default="data/gpu-corpus")
    p.add_argument("--out", default="docs/results")
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--steps", type=int, default=3, help="steps per trial (the optimizer state exists from step 1)")
    p.add_argument("--start", type=int, default=8, help="first batch tried")
    p.add_argument("--granularity", type=int, default=2)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: the memory budget needs a CUDA device", file=sys.stderr)
        return 2
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, args.budget_gib * 2**30 / total))
    settings = measure.SuiteSettings(
        data=args.data, out=os.path.join(args.out, "budget"), device="cuda", batch=args.start, seq=args.seq, seed=1337,
        steps=args.steps, medium_steps=args.steps, overhead_steps=args.steps, eval_every=0, eval_batches=1,
        retier_every=None, compile_backend="inductor")
    result = {"gpu": torch.cuda.get_device_name(0), "budget_gib": args.budget_gib, "preset": args.preset,
              "seq": args.seq, "steps": args.steps, "max_batch": {}}
    for method, spec in METHODS.items():
        spec = dataclasses.replace(spec, preset=args.preset)
        result["max_batch"][method] = largest_batch(spec, settings, args.steps, args.granularity, args.start)
        print(f"[budget] {method}: largest batch {result['max_batch'][method]} x {args.seq} under {args.budget_gib} GiB",
              file=sys.stderr, flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "memory_budget.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    if args.preset == "small":
        update_summary(args.out, {"budget_gib": args.budget_gib, "max_batch_full": result["max_batch"]["full"],
                                  "max_batch_hima": result["max_batch"]["hima"]})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
