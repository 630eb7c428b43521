"""Beyond one GPU's memory: FSDP2 + AdamW vs FSDP2 + HiMA, the replicated reducer vs DDP, and the largest model
that trains under a per-GPU memory budget. One command, rows into docs/results/scale.json, tables into scale.md:

    PYTHONPATH=trainer python bench/scale_suite.py --nprocs 2,4 --models small,medium --budget-gib 40 \\
        --search-models medium,large,xl,2b7,6b7

Every row is one real `python -m torch.distributed.run --standalone --nproc-per-node N -m hima train ...` run,
measured from its own events (as bench/ddp_suite.py): tokens/s is the median of the step events after --skip,
reduce_bytes_per_step the mean gradient payload per rank per step (all-reduce for the replicated strategy,
reduce-scatter input for fsdp2), peak_bytes_max the largest per-rank CUDA peak.

Throughput rows (memory_budget_gib null), per nproc and model:
  method "replicated-reducer" engine "adamw"  -- HiMA's bucketed all-reduce, full AdamW
  method "ddp"                engine "adamw"  -- PyTorch's DistributedDataParallel, full AdamW
  method "fsdp2"              engine "adamw" / "hima" (hot 0.25, warm 0.5: about 50% Cold, re-tiers from step 10)
Budget rows (--budget-gib): per nproc and engine, fsdp2, the --search-models ladder in ascending size under
torch.cuda.set_per_process_memory_fraction(budget); each is run until one does not fit (out of memory), which
ends that ladder. HiMA runs there with the depth layout and first_retier 0: Cold from the first step, so the
optimizer state it never allocates is never part of the peak (an all-Hot start would allocate it all).
--device cpu is a smoke test of this script (gloo, no budget: every model "fits"); its rows are not results.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from bench.ddp_suite import launch, merge_rows, peak_bytes, run_config, synthetic_tokens  # noqa: E402
from bench.scale_report import write_report  # noqa: E402

RESULTS = os.path.join(os.path.dirname(HERE), "docs", "results")
THROUGHPUT = (("replicated-reducer", "adamw"), ("ddp", "adamw"), ("fsdp2", "adamw"), ("fsdp2", "hima"))
ROW_KEY = ("gpu", "nproc", "nnodes", "model", "method", "engine", "memory_budget_gib")


def scale_config(args: argparse.Namespace, nproc: int, method: str, engine: str, budget: float | None) -> dict:
    grad_sync = "ddp" if method == "ddp" else "overlap"
    config = run_config(args, nproc, "full" if engine == "adamw" else "hima", grad_sync)
    config["strategy"] = "fsdp2" if method == "fsdp2" else "replicated"
    if config["strategy"] == "fsdp2" or nproc == 1:
        config.pop("grad_sync", None)
    if budget is not None:
        config["memory_budget_gib"] = budget
        if engine == "hima":
            config.update(layout="depth", first_retier=0)
    return config


def out_of_memory(events: list[dict]) -> bool:
    return any(e["type"] == "error" and "out of memory" in e["message"].lower() for e in events)


def measure(args, data: str, nproc: int, model: str, method: str, engine: str, budget: float | None, work: str) -> dict:
    name = f"{model}-{method}-{engine}-n{nproc}" + (f"-b{budget:g}" if budget is not None else "")
    started = time.perf_counter()
    code, events = launch(args, data, nproc, model, scale_config(args, nproc, method, engine, budget), name, work)
    fits = code == 0 and not any(e["type"] == "error" for e in events)
    if not fits and not (budget is not None and out_of_memory(events)):
        raise RuntimeError(f"{name}: exit code {code}; errors: {[e['message'] for e in events if e['type'] == 'error']}")
    hello = next((e for e in events if e["type"] == "hello"), None)
    steps = [e for e in events if e["type"] == "step" and e["step"] > args.skip]
    memory = [e for e in events if e["type"] == "memory"]
    in_loop = [e for e in memory if args.skip < e["step"] < args.steps and e.get("ranks")]
    return {
        "gpu": args.gpu, "nproc": nproc, "nnodes": 1, "model": model,
        "params": hello["model"]["n_params"] if hello else None, "method": method, "engine": engine,
        "memory_budget_gib": budget, "fits": fits,
        "tok_s": round(statistics.median(e["tokens_per_s"] for e in steps)) if fits and steps else None,
        "peak_bytes_max": peak_bytes(memory),
        "reduce_bytes_per_step": round(statistics.mean(e["ranks"]["allreduce_bytes_per_step"] for e in in_loop)) if fits and in_loop else None,
        "global_batch": args.per_gpu_batch * nproc, "steps": args.steps, "skip": args.skip,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def merge(path: str, rows: list[dict]) -> list[dict]:
    return merge_rows(path, rows, key=lambda r: tuple(r.get(k) for k in ROW_KEY), order=lambda r: (
        r["gpu"], r["memory_budget_gib"] or 0, r["nproc"], r["params"] or 0, r["method"], r["engine"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/scale_suite.py", description=__doc__.split("\n")[0])
    p.add_argument("--nprocs", default="2,4", help="comma-separated process counts (one GPU each)")
    p.add_argument("--models", default="small,medium", help="presets for the throughput rows ('' for none)")
    p.add_argument("--budget-gib", type=float, default=None, help="per-GPU memory budget for the search (none: no search)")
    p.add_argument("--search-models", default="medium,large,xl,2b7,6b7", help="the ladder, ascending in size")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--skip", type=int, default=15, help="steps left out of the figures (start-up, the all-Hot steps before step 10)")
    p.add_argument("--per-gpu-batch", type=int, default=8, help="sequences per GPU per step (1024 tokens each)")
    p.add_argument("--data", default="synthetic", help="'synthetic' (uniform GPT-2 ids) or a token folder")
    p.add_argument("--out", default=os.path.join(RESULTS, "scale.json"))
    p.add_argument("--report", default=None, help="the Markdown tables (default: scale.md next to --out)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a smoke test of this script (gloo)")
    p.add_argument("--keep-events", default=None, help="copy each run's events.jsonl into this folder")
    p.add_argument("--timeout", type=float, default=600, help="seconds per run before it is abandoned")
    args = p.parse_args(argv)
    args.compile = False  # run_config's field; fsdp2 refuses compile
    import torch  # after argument errors

    nprocs = [int(n) for n in args.nprocs.split(",")]
    if args.device == "cuda" and (not torch.cuda.is_available() or max(nprocs) > torch.cuda.device_count()):
        print(f"scale_suite: needs {max(nprocs)} CUDA GPUs here (--device cpu for a smoke test)", file=sys.stderr)
        return 2
    args.gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    report = args.report or os.path.join(os.path.dirname(os.path.abspath(args.out)), "scale.md")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="hima-scale-") as work:
        data = synthetic_tokens(os.path.join(work, "tokens")) if args.data == "synthetic" else os.path.abspath(args.data)
        plan = [(n, m, method, engine, None) for n in nprocs for m in filter(None, args.models.split(",")) for method, engine in THROUGHPUT]
        for nproc, model, method, engine, budget in plan:
            try:
                row = measure(args, data, nproc, model, method, engine, budget, work)
            except (RuntimeError, OSError, ValueError, KeyError, StopIteration) as e:
                print(f"scale_suite: {model} {method}+{engine} x{nproc} failed: {e}", file=sys.stderr)
                failed += 1
                continue
            print(json.dumps(row), flush=True)
            write_report(merge(args.out, [row]), report)  # each finished run is kept even if a later one is cut short
        if args.budget_gib is not None:
            for nproc in nprocs:
                for engine in ("adamw", "hima"):
                    for model in args.search_models.split(","):
                        try:
                            row = measure(args, data, nproc, model, "fsdp2", engine, args.budget_gib, work)
                        except Exception as e:  # noqa: BLE001 -- a timeout, a crash: reported, the ladder ends
                            print(f"scale_suite: budget {args.budget_gib} GiB {model} fsdp2+{engine} x{nproc} failed: {e}", file=sys.stderr)
                            failed += 1
                            break
                        print(json.dumps(row), flush=True)
                        write_report(merge(args.out, [row]), report)
                        if not row["fits"]:
                            break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
