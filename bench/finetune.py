"""The fine-tuning benchmark: continued pre-training of a base model on another corpus, every method side by side.

    PYTHONPATH=trainer python -m bench.finetune --preset small --base-data data/gpu-corpus --data data/kjv-corpus

1. The base: GPT-2 ``--preset`` pre-trained from scratch with full AdamW on ``--base-data`` for ``--base-steps``
   (per-block compiled, as the pre-training suite); its weights are saved to ``<out>/base-<preset>.pt`` (git-
   ignored, re-made when absent) and reused by later calls.
2. From that base, each method trains ``--steps`` on ``--data`` (a different corpus; see
   scripts/prepare-finetune-corpus.sh), same data order, batch, schedule and seed: full AdamW; HiMA at several
   cutoffs (depth layout, tiers from step ``--retier-every``); LISA (stem + head always trained, 2 sampled
   blocks every 20 steps: the published recipe, as an engine method); LoRA through peft (rank 32, two learning
   rates). Eager (no torch.compile): on a budget this short, compiling costs more than it saves, and peft's
   adapters are not part of the per-block compile. Each run records the val loss on the new corpus (every
   ``--eval-every`` steps, from step 0), the loss on the base corpus before and after (forgetting), every
   step's device time, steady peak memory and optimizer state.

Results: ``<out>/finetune-<preset>.json`` (every run, whole); ``bench.finetune_report`` turns them into
docs/results/finetune.json, finetune.md, the summary keys and the plot.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import torch

from . import measure
from .suite import RunSpec

LORA_RANK = 32


def finetune_specs(preset: str, base: str) -> list[RunSpec]:
    lr = {"small": 6e-4, "medium": 3e-4}.get(preset)  # the presets' pre-training peak lr, re-warmed
    run = lambda name, method, *cutoffs, **kw: RunSpec(
        f"ft-{preset}-{name}", preset, method, *cutoffs, compile="none", init_from=base, **kw)
    return [
        run("full", "full", engine=False),
        run("hima-30", "hima", 0.6, 0.7, ramp=(0.0, 0.0)),
        run("hima-50", "hima", 0.4, 0.5, ramp=(0.0, 0.0)),
        run("hima-50-nowarm", "hima", 0.5, 0.5, ramp=(0.0, 0.0)),
        run("hima-70", "hima", 0.2, 0.3, ramp=(0.0, 0.0)),
        # The stem (position embeddings and the tied embedding's input side) kept Hot: the blocks above it are
        # the Cold prefix, so backward runs down to the embeddings (less saved) but the input side adapts.
        run("hima-50-stem", "hima", 0.5, 0.5, ramp=(0.0, 0.0), freeze_stem=False),
        run("hima-30-stem", "hima", 0.7, 0.7, ramp=(0.0, 0.0), freeze_stem=False),
        # Cold from the first step (first_retier 0): no all-Hot start.
        run("hima-50-nowarm-step0", "hima", 0.5, 0.5, ramp=(0.0, 0.0), first_retier=0),
        run("lisa", "lisa"),
        # LoRA at full AdamW's lr (the LoRA paper's GPT-2 runs used 2e-4) and at 5x (adapters often want more).
        run("lora-lr1", "lora", engine=False, lora_rank=LORA_RANK, lr=lr),
        run("lora-lr2", "lora", engine=False, lora_rank=LORA_RANK, lr=5 * lr if lr else None),
    ]


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.finetune", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="small", help="small | medium (tiny: the CPU smoke test)")
    p.add_argument("--base-data", default="data/gpu-corpus", help="token files the base is pre-trained on")
    p.add_argument("--data", default="data/kjv-corpus", help="token files of the new corpus")
    p.add_argument("--out", default="docs/results/finetune", help="results folder (base weights, finetune-<preset>.json)")
    p.add_argument("--base-steps", type=int, default=None, help="pre-training steps of the base (default: small 3000, medium 1000)")
    p.add_argument("--steps", type=int, default=230,
                   help="fine-tuning steps per method (default 230: the new corpus, 973k train tokens, seen 1.9 times at 8 x 1024)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-batches", type=int, default=10)
    p.add_argument("--retier-every", type=int, default=20, help="HiMA re-tier cadence (and the first re-tier)")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--compile-backend", default="inductor", help="the base's per-block compile (smoke test: eager)")
    p.add_argument("--tag", default="", help="results file finetune-<preset>-<tag>.json (a separate call, its own base)")
    p.add_argument("--only", default="", help="comma-separated method names (full, hima-50, lisa, lora-lr1, ...)")
    return p.parse_args(argv)


def _settings(args, data: str, steps: int, eval_every: int, forget: str | None, batch: int) -> measure.SuiteSettings:
    return measure.SuiteSettings(
        data=data, out=args.out, device=args.device, batch=batch, seq=args.seq, seed=args.seed, steps=steps,
        medium_steps=steps, overhead_steps=steps, eval_every=eval_every, eval_batches=args.eval_batches,
        retier_every=args.retier_every if forget else None, compile_backend=args.compile_backend,
        forget_data=forget, eval_at_start=forget is not None,
    )


def _log(msg: str) -> None:
    print(f"[finetune] {msg}", file=sys.stderr, flush=True)


def make_base(args) -> tuple[str, dict | None]:
    """The base's weights (trained now when absent) and its run's result (None when reused)."""
    path = os.path.join(args.out, f"base-{args.preset}.pt")
    if os.path.exists(path):
        _log(f"reusing the base {path}")
        return path, None
    steps = args.base_steps or {"small": 3000, "medium": 1000}.get(args.preset, 50)
    spec = RunSpec(f"base-{args.preset}", args.preset, "full", engine=False, save_weights=path,
                   compile="block" if args.device != "cpu" else "none")
    # The base trains at the pre-training suite's batch (10 x 1024) on its corpus.
    settings = _settings(args, args.base_data, steps, max(1, steps // 10), None, batch=10)
    _log(f"pre-training the base: {args.preset}, {steps} steps on {args.base_data}")
    result = measure.run_one(spec, settings)
    return path, result


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    os.makedirs(args.out, exist_ok=True)
    env = measure.environment()
    if env["device"] == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out_file = os.path.join(args.out, f"finetune-{args.preset}{'-' + args.tag if args.tag else ''}.json")
    results = {"env": env, "args": vars(args), "base": None, "runs": []}
    if os.path.exists(out_file):  # runs of an earlier call stay unless run again
        with open(out_file, encoding="utf-8") as f:
            results = {**json.load(f), "env": env, "args": vars(args)}
    base_path, base_result = make_base(args)
    if base_result is not None:
        results["base"] = {k: base_result[k] for k in ("name", "config", "final_val_loss", "val_curve", "timing", "n_params")}
    only = {f"ft-{args.preset}-{n.strip()}" for n in args.only.split(",") if n.strip()}
    specs = [s for s in finetune_specs(args.preset, base_path) if not only or s.name in only]
    settings = _settings(args, args.data, args.steps, args.eval_every, args.base_data, batch=args.batch)
    failed = 0
    for spec in specs:
        started = time.perf_counter()
        try:
            result = measure.run_one(spec, settings)
        except Exception as e:
            traceback.print_exc()
            result = {"name": spec.name, "status": "error", "spec": spec.to_json(), "error": f"{type(e).__name__}: {e}"}
            failed += 1
        results["runs"] = [r for r in results["runs"] if r["name"] != spec.name] + [result]
        tmp = out_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, out_file)
        if result["status"] == "ok":
            _log(f"{spec.name}: val {result['final_val_loss']:.4f}, forget {result['forget_val_loss']}, "
                 f"train {result['timing']['train_time_s']:.1f}s ({time.perf_counter() - started:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
