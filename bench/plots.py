"""PNG plots of a suite's runs (matplotlib, headless). Imported by report.py only when matplotlib exists."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024


def _ok(runs: dict) -> dict:
    return {n: r for n, r in runs.items() if r.get("status") == "ok"}


def _model_groups(runs: dict) -> list[tuple[str, list[dict]]]:
    groups = [("GPT-2 Small", [r for n, r in runs.items() if n.startswith("small-") and not n.startswith("small-hf")]),
              ("GPT-2 Small (Hugging Face)", [r for n, r in runs.items() if n.startswith("small-hf")]),
              ("GPT-2 Medium", [r for n, r in runs.items() if n.startswith("medium-")])]
    return [(t, rs) for t, rs in groups if rs]


def _val_curves(out: str, runs: dict, name: str, points, xlabel: str, title: str, groups=None) -> str | None:
    """One panel per model (``groups``: (title, runs) pairs; default by name prefix): each run's val loss
    against ``points(run)``'s x values; AdamW drawn bold."""
    groups = groups if groups is not None else _model_groups(runs)
    if not groups:
        return None
    fig, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups), 4.5), squeeze=False)
    for ax, (model, rs) in zip(axes[0], groups):
        for r in rs:
            xs, losses = zip(*points(r))
            style = dict(color="black", linewidth=2.2) if r["spec"]["method"] == "full" else {}
            ax.plot(xs, losses, marker="o", markersize=2, label=r["name"], **style)
        ax.set_title(f"{model}: {title}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("val loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out, name)


def _val_loss(out: str, runs: dict) -> str | None:
    return _val_curves(out, runs, "val_loss.png", lambda r: r["val_curve"], "step", "validation loss")


def _val_vs_time(out: str, runs: dict) -> str | None:
    """Val loss against training seconds (evaluation excluded): the time-to-quality view."""
    from .end_to_end import val_vs_time

    return _val_curves(out, runs, "val_vs_time.png", val_vs_time, "training seconds (every step, evaluation excluded)",
                       "val loss against training time")


def _bars(ax, names: list[str], values: list[float], title: str, unit: str) -> None:
    ax.barh(names, values, color="#4c72b0")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,.1f}", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(unit)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)


def _memory(out: str, runs: dict) -> str | None:
    names = [n for n, r in runs.items() if r["memory"].get("peak_allocated_bytes") is not None]
    if not names:
        return None  # CPU runs: no device memory to show
    fig, axes = plt.subplots(1, 3, figsize=(19, max(4.5, 0.45 * len(names) + 2)))
    peaks = [(runs[n]["memory"].get("steady_peak_allocated_bytes") or runs[n]["memory"]["peak_allocated_bytes"]) / MIB for n in names]
    _bars(axes[0], names, peaks, "Peak GPU memory (steady state, after the first re-tier)", "MiB")
    _bars(axes[1], names, [runs[n]["optimizer_state"]["end_bytes"] / MIB for n in names], "Optimizer-state bytes at the end", "MiB")
    # Peak of each step: shows which steps set the peak (HiMA's probe and Warm-update steps).
    shown = [n for n in ("small-full", "small-hima-50", "small-hima-70") if n in runs and runs[n]["memory"].get("step_peak_mib")]
    _per_step(axes[2], {n: runs[n]["memory"]["step_peak_mib"] for n in shown}, "Peak memory of each step", "MiB")
    return _save(fig, out, "memory.png")


def _step_time(out: str, runs: dict) -> str | None:
    names = list(runs)
    if not names:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, max(4.5, 0.45 * len(names) + 2)))
    _bars(axes[0], names, [runs[n]["timing"]["ms_per_step_median"] for n in names], "Step time (median, steady state)", "ms/step")
    # Step time along the run shows where compiles and re-tiers cost time (spikes).
    shown = [n for n in ("small-full", "small-hima-50", "medium-full", "medium-hima-50") if n in runs]
    _per_step(axes[1], {n: runs[n]["timing"]["step_ms"] for n in shown}, "Step time along the run", "ms (log)", log=True)
    return _save(fig, out, "step_time.png")


def _per_step(ax, series: dict, title: str, ylabel: str, log: bool = False) -> None:
    """One line per run over its steps, with a legend when there is any line."""
    for name, values in series.items():
        ax.plot(values, linewidth=0.8, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)


def _tradeoff(out: str, runs: dict) -> str | None:
    """Final val loss against the run's time-averaged Cold share (GPT-2 Small runs of the suite's budget)."""
    from .report import tradeoff

    points = tradeoff(runs)
    if len(points) < 2:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for p in points:
        ax.scatter(p["mean_cold_share"], p["val_loss"], s=18)
        ax.annotate(f"{p['name']} ({p['e2e_speedup']:.2f}x)", (p["mean_cold_share"], p["val_loss"]), fontsize=6,
                    xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("Cold share of parameter elements, averaged over the run's steps")
    ax.set_ylabel("final val loss")
    ax.set_title("GPT-2 Small: val loss against Cold share (whole-run speedup in brackets)")
    ax.grid(alpha=0.3)
    return _save(fig, out, "tradeoff.png")


def _save(fig, out: str, name: str) -> str:
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=110)
    plt.close(fig)
    return name


def write_plots(out: str, runs: dict) -> list[str]:
    """Write the PNGs into `out`; returns the file names written."""
    ok = _ok(runs)
    return [p for p in (_val_loss(out, ok), _val_vs_time(out, ok), _tradeoff(out, ok), _memory(out, ok), _step_time(out, ok)) if p]
