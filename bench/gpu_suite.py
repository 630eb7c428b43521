"""The GPU benchmark suite: one command, results written run by run.

    PYTHONPATH=trainer python -m bench.gpu_suite --part small   # then --part medium, --part overhead

The overhead runs are not run one after another: they are built together and timed in interleaved
rounds (bench/interleaved.py), each compared with the plain AdamW baseline of the same round.

Each finished run is written at once to <out>/runs/<name>.json and merged into <out>/results.json,
so a part cut short still leaves every run it finished. Runs of later calls are merged with earlier
ones; a run that fails is recorded with its error and the suite goes on. Needs only torch + numpy;
summary.json and README.md are written at the end (report.py; its PNG plots need matplotlib).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import traceback

import torch

from . import interleaved, measure
from .suite import ALL_RUNS, PARTS, select_runs


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_suite", description=__doc__.split("\n")[0])
    p.add_argument("--part", default="", help=f"comma-separated parts: {', '.join(PARTS)}, all")
    p.add_argument("--only", default="", help="comma-separated run names (see --list)")
    p.add_argument("--list", action="store_true", help="print the runs of each part and exit")
    p.add_argument("--data", default="data/linux-doc", help="token files (train.bin, val.bin, meta.json)")
    p.add_argument("--out", default="docs/results", help="results folder")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--batch", type=int, default=10,
                   help="sequences per step (default 10: with the chunked loss, full AdamW on Small, block-compiled, "
                        "peaked 4,971 MiB at B=6 and 6,581 MiB at B=10 on an H100; B=12 (~7,400 MiB, nearer the "
                        "published 7,945 MB) leaves data/linux-doc (10.8M tokens) room for only 879 steps)")
    p.add_argument("--seq", type=int, default=1024, help="tokens per sequence (default 1024)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--steps", type=int, default=1000, help="step budget of the GPT-2 Small runs")
    p.add_argument("--medium-steps", type=int, default=300, help="step budget of the GPT-2 Medium runs")
    p.add_argument("--overhead-warmup", type=int, default=20,
                   help="overhead runs: steps per config before the timed rounds (compiles, lazy optimizer state)")
    p.add_argument("--overhead-rounds", type=int, default=6, help="overhead runs: interleaved rounds")
    p.add_argument("--overhead-segment", type=int, default=100,
                   help="overhead runs: steps per config per round (default 100: one re-tier per segment at "
                        "Small's cadence, so every segment holds the same work)")
    p.add_argument("--eval-every", type=int, default=100, help="validation every N steps (and at the end)")
    p.add_argument("--eval-batches", type=int, default=20, help="fixed validation batches per evaluation")
    p.add_argument("--retier-every", type=int, default=None, help="HiMA re-tier cadence (default: the preset's)")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (the CPU smoke test uses eager)")
    p.add_argument("--recompile-limit", type=int, default=None,
                   help="torch._dynamo recompile_limit floor (default: torch's, 8, raised per run by compile_per_block "
                        "to what the method's requires_grad patterns need); past it a block silently runs eager")
    p.add_argument("--preset", default=None, help="run every spec on this model preset instead (smoke test: tiny)")
    p.add_argument("--no-report", action="store_true", help="do not write summary.json / README.md at the end")
    p.add_argument("--gpus", type=int, default=1,
                   help="run the selected runs as N parallel queues, one process per GPU (CUDA_VISIBLE_DEVICES); runs of "
                        "one spec group share a queue, so a timed pair (full vs HiMA) runs on one GPU")
    args = p.parse_args(argv)
    for name in ("batch", "seq", "steps", "medium_steps", "overhead_rounds", "overhead_segment", "eval_batches"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.eval_every < 0 or args.overhead_warmup < 0:
        p.error("--eval-every and --overhead-warmup must be >= 0")
    return args


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _write_json(path: str, value) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"  # parallel queues (--gpus) merge into one results.json
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)  # a run killed mid-write never leaves a torn results file


def merge_results(out: str) -> dict:
    """results.json = every runs/<name>.json in the folder, in suite order."""
    runs = {}
    for path in glob.glob(os.path.join(out, "runs", "*.json")):
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        runs[run["name"]] = run
    order = list(ALL_RUNS)
    names = sorted(runs, key=lambda n: (order.index(n) if n in order else len(order), n))
    merged = {"runs": [runs[n] for n in names]}
    _write_json(os.path.join(out, "results.json"), merged)
    return merged


def split_queues(specs: list, n: int) -> list[list]:
    """Runs grouped by ``spec.group`` (a run without one is its own group), groups dealt to ``n`` queues,
    largest first, each to the queue with the least work (steps x model size); suite order within a queue."""
    cost = {"small": 1.0, "medium": 2.2}
    groups: dict[str, list] = {}
    for spec in specs:
        groups.setdefault(spec.group or spec.name, []).append(spec)
    work = lambda group: sum(cost.get(s.preset, 1.0) * (3.0 if s.steps_key == "steps" else 1.0) for s in group)
    queues: list[list] = [[] for _ in range(n)]
    load = [0.0] * n
    for group in sorted(groups.values(), key=work, reverse=True):
        k = load.index(min(load))
        queues[k].extend(group)
        load[k] += work(group)
    order = [s.name for s in specs]
    return [sorted(q, key=lambda s: order.index(s.name)) for q in queues if q]


def run_queues(specs: list, args: argparse.Namespace, argv: list[str]) -> int:
    """One child suite process per queue, GPU i for queue i; then the report over everything they wrote."""
    import subprocess

    passthrough = []
    skip = False
    for a in argv:  # every flag but the selection and --gpus goes to the children unchanged
        if skip:
            skip = False
            continue
        if a in ("--part", "--only", "--gpus"):
            skip = True
            continue
        if a.startswith(("--part=", "--only=", "--gpus=")):
            continue
        passthrough.append(a)
    procs = []
    for i, queue in enumerate(split_queues(specs, args.gpus)):
        names = ",".join(s.name for s in queue)
        print(f"[bench] GPU {i}: {names}", file=sys.stderr, flush=True)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(i)}
        cmd = [sys.executable, "-m", "bench.gpu_suite", *passthrough, "--only", names, "--no-report"]
        procs.append(subprocess.Popen(cmd, env=env))
    codes = [p.wait() for p in procs]
    merge_results(args.out)
    if not args.no_report:
        from . import report

        try:
            report.write_report(args.out)
        except Exception:
            traceback.print_exc()
    return 1 if any(codes) else 0


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.list:
        for part, specs in PARTS.items():
            print(f"{part}: {', '.join(s.name for s in specs)}")
        return 0
    try:
        specs = select_runs(_split(args.part), _split(args.only))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not specs:
        print("error: nothing to run; pass --part and/or --only (see --list)", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2

    if args.gpus > 1:
        return run_queues(specs, args, argv if argv is not None else sys.argv[1:])

    plan = interleaved.Plan(args.overhead_warmup, args.overhead_rounds, args.overhead_segment)
    settings = measure.SuiteSettings(
        data=args.data, out=args.out, device=args.device, batch=args.batch, seq=args.seq, seed=args.seed,
        steps=args.steps, medium_steps=args.medium_steps, overhead_steps=plan.steps,
        eval_every=args.eval_every, eval_batches=args.eval_batches, retier_every=args.retier_every,
        compile_backend=args.compile_backend, preset_override=args.preset,
    )
    if args.recompile_limit is not None:
        import torch._dynamo as dynamo  # "as": a bare `import torch._dynamo` would make torch local to main

        dynamo.config.recompile_limit = args.recompile_limit
        dynamo.config.accumulated_recompile_limit = max(args.recompile_limit * 16, 256)
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
    env = measure.environment()
    print(f"[bench] {len(specs)} runs on {env['gpu'] or 'cpu'} (torch {env['torch']}): "
          f"{', '.join(s.name for s in specs)}", file=sys.stderr, flush=True)
    if env["device"] == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # only matters outside autocast (fp32 matmuls)
        torch.backends.cudnn.allow_tf32 = True

    suite_args = {k: v for k, v in vars(args).items() if k not in ("list", "no_report")}
    suite_start = time.perf_counter()

    def record(result: dict, started: float) -> None:
        result["env"] = env
        result["suite_args"] = suite_args
        _write_json(os.path.join(args.out, "runs", f"{result['name']}.json"), result)
        merge_results(args.out)
        if result["status"] == "ok":
            t = result["timing"]
            print(f"[bench] {result['name']}: {t['ms_per_step_median']:.2f} ms/step, val {result['final_val_loss']:.4f}, "
                  f"{time.perf_counter() - started:.0f}s (suite {time.perf_counter() - suite_start:.0f}s)",
                  file=sys.stderr, flush=True)

    def failure(failed_specs: list, e: Exception) -> list[dict]:  # one broken run must not cost the others
        traceback.print_exc()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return [{"name": spec.name, "status": "error", "spec": spec.to_json(), "error": f"{type(e).__name__}: {e}",
                 "traceback": traceback.format_exc()} for spec in failed_specs]

    paired = [s for s in specs if s.steps_key == "overhead_steps"]
    if len(paired) < 2:  # one overhead run alone has nothing to pair with: it runs like the others
        paired = []
    failed = 0
    for i, spec in enumerate([s for s in specs if s not in paired], 1):
        print(f"[bench] ({i}/{len(specs)}) {spec.name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = measure.run_one(spec, settings)
        except Exception as e:
            result = failure([spec], e)[0]
        failed += result["status"] != "ok"
        record(result, started)
    if paired:
        print(f"[bench] interleaved: {', '.join(s.name for s in paired)}; {plan.rounds} rounds of {plan.segment} "
              f"steps after {plan.warmup} warmup steps each", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            results = interleaved.run_paired(paired, settings, plan)
        except Exception as e:
            results = failure(paired, e)
        for result in results:
            failed += result["status"] != "ok"
            record(result, started)

    if not args.no_report:
        from . import report

        try:
            report.write_report(args.out)
        except Exception:  # the results are already on disk; the report can be redone here later
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
