"""docs/results/ddp.json (rows written by bench/ddp_suite.py) -> docs/results/ddp.md: the scaling tables.

    python -m bench.ddp_report [--rows docs/results/ddp.json] [--out docs/results/ddp.md]

One table per (GPU, model, compiled or eager): a line per method and gradient reduction, tokens/s on 1..N
processes, the scaling over the same method's one-process run, gradient bytes all-reduced per step and the
largest per-rank peak. Only figures that are in the rows are shown; nothing is interpolated.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(os.path.dirname(HERE), "docs", "results")

GRAD_SYNC_NAMES = {
    "overlap": "HiMA reducer, overlapped with backward",
    "after-backward": "HiMA reducer, after backward",
    "ddp": "PyTorch DDP",
}


def _table_key(row: dict) -> tuple:
    return row["gpu"], row["model"], bool(row.get("compile", False))


def _line_key(row: dict) -> tuple:
    return row["method"], row.get("grad_sync") or "none"


def scaling_tables(rows: list[dict]) -> list[str]:
    lines: list[str] = []
    for table in sorted({_table_key(r) for r in rows}):
        gpu, model, compiled = table
        mine = [r for r in rows if _table_key(r) == table]
        nprocs = sorted({r["nproc"] for r in mine})
        multi = [n for n in nprocs if n > 1]
        steps = sorted({(r.get("steps"), r.get("skip"), r.get("global_batch", 0) // r["nproc"]) for r in mine})
        setup = "; ".join(f"{s} steps (figures after step {k}), {b} x 1024 tokens per GPU per step" for s, k, b in steps)
        lines += [f"### {model}, {'compiled per block' if compiled else 'eager'}, {gpu}", "", setup, ""]
        header = ["method", "gradient reduction", *(f"{n} GPU{'s' if n > 1 else ''} tok/s" for n in nprocs),
                  *(f"scaling x{n}" for n in multi), *(f"all-reduce MB/step x{n}" for n in multi), "peak GB per rank (max)"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        # The one-process run reduces nothing: it is the baseline of every reduction of its method.
        baselines = {r["method"]: r for r in mine if r["nproc"] == 1}
        multi_lines = sorted({_line_key(r) for r in mine if r["nproc"] > 1})
        lone = [(m, "none") for m in sorted(baselines) if not any(k[0] == m for k in multi_lines)]
        for method, grad_sync in multi_lines + lone:
            by_n = {r["nproc"]: r for r in mine if r["method"] == method and (r["nproc"] == 1 or (r.get("grad_sync") or "none") == grad_sync)}
            base = baselines.get(method)
            cells = [method, GRAD_SYNC_NAMES.get(grad_sync, "-")]
            cells += [f"{by_n[n]['tok_s']:,}" if n in by_n else "-" for n in nprocs]
            cells += [f"{by_n[n]['tok_s'] / base['tok_s']:.2f}x" if n in by_n and base else "-" for n in multi]
            cells += [f"{by_n[n]['allreduce_bytes_per_step'] / 1e6:,.1f}" if n in by_n else "-" for n in multi]
            peaks = [r["peak_bytes_max"] for r in by_n.values() if r.get("peak_bytes_max")]
            cells.append(f"{max(peaks) / 1e9:.2f}" if peaks else "-")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_report(rows_path: str, out_path: str) -> str:
    with open(rows_path) as f:
        rows = json.load(f)
    text = "\n".join([
        "# HiMA under torchrun: scaling and communication", "",
        "Regenerate: `PYTHONPATH=trainer python bench/ddp_suite.py --nprocs 1,2,4 --steps 50 --models small "
        "--methods hima,full,full:ddp --data data/linux-doc` (and `--models medium --methods hima,full`) on a GPU host, then "
        "`python -m bench.ddp_report`. Rows: [ddp.json](ddp.json).", "",
        "tok/s: median over step events of the global batch (ideal scaling = N x the one-GPU figure). "
        "All-reduce MB/step: gradient payload each rank reduces per step (Cold tensors send nothing; for PyTorch "
        "DDP, computed as the size of every gradient). Peak: the largest per-rank `torch.cuda.max_memory_allocated`.", "",
        *scaling_tables(rows),
    ])
    with open(out_path, "w") as f:
        f.write(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.ddp_report", description=__doc__.split("\n")[0])
    p.add_argument("--rows", default=os.path.join(RESULTS, "ddp.json"))
    p.add_argument("--out", default=os.path.join(RESULTS, "ddp.md"))
    args = p.parse_args(argv)
    try:
        print(write_report(args.rows, args.out))
    except (OSError, ValueError, KeyError) as e:
        print(f"bench.ddp_report: cannot read {args.rows}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
