"""HiMA under torchrun on N GPUs of one host: tokens/s, gradient bytes all-reduced per step, peak memory per rank.

    PYTHONPATH=trainer python bench/ddp_suite.py --nprocs 1,2 --models small --steps 40
    PYTHONPATH=trainer python bench/ddp_suite.py --nprocs 1,2,4 --models medium --steps 30
    PYTHONPATH=trainer python bench/ddp_suite.py --nprocs 2,4 --methods full:ddp,full:after-backward,hima:after-backward

Each (nproc, model, method) is one real `python -m torch.distributed.run --standalone --nproc-per-node N -m hima
train ...` run (the launch the extension makes), measured from its own events: tokens/s is the median of the
step events after --skip steps (global batch = --per-gpu-batch x N, so ideal scaling is N x the one-process
figure); allreduce_bytes_per_step is the mean of the memory events' `ranks.allreduce_bytes_per_step` after the
skip (gradient payload per rank per step; 0 for one process); peak_bytes_max is the largest per-rank CUDA peak.
`hima` runs at hot 0.25 / warm 0.5 (about 50% Cold) with re-tiers every 10 steps from step 10.
A method may name how gradients are reduced (the trainer's `grad_sync`): `full:ddp` is plain AdamW under
PyTorch's DistributedDataParallel (the reference), `hima:after-backward` HiMA's reducer without overlap;
a bare method uses the trainer's default (`overlap`).
Rows are printed and merged into docs/results/ddp.json (same gpu/nproc/model/method/grad_sync/compile replaced).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GPT2_VOCAB = 50257


def synthetic_tokens(folder: str, n_tokens: int = 4_000_000) -> str:
    """Uniform random GPT-2 ids: throughput and memory do not depend on what the tokens say."""
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for name, n in (("train.bin", n_tokens), ("val.bin", 200_000)):
        rng.integers(0, GPT2_VOCAB, size=n, dtype=np.uint16).astype("<u2").tofile(os.path.join(folder, name))
    meta = {"tokenizer": "gpt2", "vocab_size": GPT2_VOCAB, "n_train": n_tokens, "n_val": 200_000, "source": "synthetic", "token_map": None}
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f)
    return folder


DEFAULT_GRAD_SYNC = "overlap"


def parse_method(spec: str) -> tuple[str, str]:
    """"full:ddp" -> ("full", "ddp"); "hima" -> ("hima", the trainer's default)."""
    method, _, grad_sync = spec.partition(":")
    return method, grad_sync or DEFAULT_GRAD_SYNC


def run_config(args: argparse.Namespace, nproc: int, method: str, grad_sync: str) -> dict:
    config = {
        "batch_size": args.per_gpu_batch * nproc, "log_every": 1, "memory_every": 5, "eval_every": 0, "eval_batches": 1,
        "checkpoint_every": 0, "keep_checkpoints": 1, "warmup_steps": 5, "compile": args.compile,
        "method": method, "first_retier": 10, "retier_every": 10,
    }
    if nproc > 1:
        config["grad_sync"] = grad_sync
    if method == "hima":
        # The tensor layout, as in the committed 4-GPU figures (docs/results/ddp.md): measured before the depth
        # layout became the default; no ramp (the GPU presets' own recipe ramps Cold in over 50-95% of the steps).
        config.update(hot=0.25, warm=0.5, layout="tensor", ramp_start=0.0, ramp_end=0.0)
    return config


def launch(args: argparse.Namespace, data: str, nproc: int, model: str, config: dict, name: str, work: str,
           launcher_flags: list[str] | None = None) -> tuple[int, list[dict]]:
    """One real trainer run (under torchrun when ``nproc`` > 1): its exit code and the events it wrote."""
    out = os.path.join(work, name)
    config_path = os.path.join(work, f"{name}.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    trainer = ["-m", "hima", "train", "--preset", model, "--config", config_path, "--data", data, "--out", out,
               "--max-steps", str(args.steps), "--device", args.device, "--quiet-stdout"]
    launcher = launcher_flags or (["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] if nproc > 1 else [])
    # No shell; the trainer's events go to <out>/events.jsonl, its logs to this terminal.
    proc = subprocess.run([sys.executable, *launcher, *trainer], stdin=subprocess.DEVNULL, timeout=args.timeout)
    if args.keep_events:
        os.makedirs(args.keep_events, exist_ok=True)
        shutil.copyfile(os.path.join(out, "events.jsonl"), os.path.join(args.keep_events, f"{name}.jsonl"))
    with open(os.path.join(out, "events.jsonl")) as f:
        return proc.returncode, [json.loads(line) for line in f if line.strip()]


def peak_bytes(memory: list[dict]) -> int | None:
    """The largest per-rank CUDA peak in these memory events (None on CPU)."""
    ranks = [e.get("ranks") for e in memory]
    peaks = [r["peak_bytes"]["max"] for r in ranks if r and r["peak_bytes"]] or [e["peak_bytes"] for e in memory if e["peak_bytes"]]
    return max(peaks) if peaks else None


def measure(args: argparse.Namespace, data: str, nproc: int, model: str, spec: str, work: str) -> dict:
    method, grad_sync = parse_method(spec)
    name = f"{model}-{method}-{grad_sync}-n{nproc}{'-compiled' if args.compile else ''}"
    started = time.perf_counter()
    code, events = launch(args, data, nproc, model, run_config(args, nproc, method, grad_sync), name, work)
    errors = [e["message"] for e in events if e["type"] == "error"]
    if code != 0 or errors:
        raise RuntimeError(f"{name}: exit code {code}; errors: {errors}")
    steps = [e for e in events if e["type"] == "step" and e["step"] > args.skip]
    memory = [e for e in events if e["type"] == "memory" and e["step"] > args.skip]
    in_loop = [e for e in memory if e["step"] < args.steps]  # the events after done cover no steps
    return {
        "gpu": args.gpu, "nproc": nproc, "model": model, "method": method,
        "grad_sync": grad_sync if nproc > 1 else "none",
        "tok_s": round(statistics.median(e["tokens_per_s"] for e in steps)),
        "allreduce_bytes_per_step": round(statistics.mean(e["ranks"]["allreduce_bytes_per_step"] for e in in_loop)) if nproc > 1 else 0,
        "peak_bytes_max": peak_bytes(memory),
        "global_batch": args.per_gpu_batch * nproc, "steps": args.steps, "skip": args.skip, "compile": args.compile,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def merge_rows(path: str, rows: list[dict], key=None, order=None) -> list[dict]:
    """Write ``rows`` into the JSON list at ``path``: a row replaces the one with the same ``key``; sorted by ``order``."""
    key = key or (lambda r: (r["gpu"], r["nproc"], r["model"], r["method"], r.get("grad_sync"), r.get("compile", False)))
    order = order or (lambda r: (r["gpu"], r["model"], r.get("compile", False), r["method"], r.get("grad_sync") or "", r["nproc"]))
    try:
        with open(path) as f:
            existing = json.load(f)
    except FileNotFoundError:
        existing = []
    fresh = {key(r) for r in rows}
    merged = sorted([r for r in existing if key(r) not in fresh] + rows, key=order)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    return merged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/ddp_suite.py", description=__doc__.split("\n")[0])
    p.add_argument("--nprocs", default="1,2", help="comma-separated process counts (one GPU each)")
    p.add_argument("--models", default="small", help="comma-separated presets: small, medium")
    p.add_argument("--methods", default="full,hima", help="comma-separated; method[:grad_sync], grad_sync one of overlap, after-backward, ddp (full only)")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=20, help="steps left out of the figures (start-up, all-Hot steps before the first re-tier)")
    p.add_argument("--per-gpu-batch", type=int, default=8, help="sequences per GPU per step (1024 tokens each)")
    p.add_argument("--data", default="synthetic", help="'synthetic' or a token folder such as data/linux-doc")
    p.add_argument("--compile", action="store_true", help="torch.compile each block (slower start, faster steps)")
    p.add_argument("--out", default=os.path.join(REPO, "docs", "results", "ddp.json"))
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a smoke test of this script (gloo, tiny preset)")
    p.add_argument("--keep-events", default=None, help="copy each run's events.jsonl into this folder")
    p.add_argument("--timeout", type=float, default=280, help="seconds per run before it is abandoned")
    args = p.parse_args(argv)
    import torch  # after argument errors

    nprocs = [int(n) for n in args.nprocs.split(",")]
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("ddp_suite: needs CUDA GPUs (--device cpu for a smoke test)", file=sys.stderr)
            return 2
        if max(nprocs) > torch.cuda.device_count():
            print(f"ddp_suite: {max(nprocs)} processes asked, {torch.cuda.device_count()} GPUs here", file=sys.stderr)
            return 2
    args.gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    with tempfile.TemporaryDirectory(prefix="hima-ddp-") as work:
        data = synthetic_tokens(os.path.join(work, "tokens")) if args.data == "synthetic" else os.path.abspath(args.data)
        rows = []
        for model in args.models.split(","):
            for method in args.methods.split(","):
                for nproc in nprocs:
                    if nproc == 1 and ":" in method:
                        continue  # one process reduces nothing: the bare method's row is the baseline
                    try:
                        row = measure(args, data, nproc, model, method, work)
                    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
                        print(f"ddp_suite: {model} {method} x{nproc} failed: {e}", file=sys.stderr)
                        continue
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    merge_rows(args.out, [row])  # each finished run is kept even if a later one is cut short
    print(f"\n{'model':8} {'method':6} {'grad_sync':>14} {'nproc':>5} {'tok/s':>9} {'scaling':>8} {'allreduce MB/step':>18} {'peak GB max':>12}")
    for r in rows:
        base = next((b for b in rows if (b["model"], b["method"], b["nproc"]) == (r["model"], r["method"], 1)), None)
        scaling = f"{r['tok_s'] / base['tok_s']:.2f}x" if base else "-"
        peak = f"{r['peak_bytes_max'] / 1e9:.2f}" if r["peak_bytes_max"] else "-"
        print(f"{r['model']:8} {r['method']:6} {r['grad_sync']:>14} {r['nproc']:>5} {r['tok_s']:>9} {scaling:>8} {r['allreduce_bytes_per_step'] / 1e6:>18.1f} {peak:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
