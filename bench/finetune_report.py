"""The fine-tuning benchmark's report: finetune.json, finetune.md, the summary keys and the plot.

    PYTHONPATH=trainer python -m bench.finetune_report --runs docs/results/finetune --out docs/results

Reads every ``finetune-<preset>.json`` that bench.finetune wrote and compares each method with full AdamW of
the same preset (bench.end_to_end: whole-run time, time to full AdamW's final val loss, val at equal time).
The headline HiMA setting is ``hima-50`` (50% Cold, 10% Warm), chosen before the runs; LoRA's figure is the
better of its two learning rates.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from .end_to_end import compare, val_vs_time
from .report import update_summary

HEADLINE = "hima-50"
LORAS = ("lora-lr1", "lora-lr2")


def _method(run: dict) -> str:
    """The method's short name: ft-small-hima-50 -> hima-50."""
    return run["name"].split("-", 2)[2]


def _steady_peak(run: dict) -> int | None:
    return run["memory"].get("steady_peak_allocated_bytes")


def rows(results: dict) -> list[dict]:
    """One row per finished run of a preset, compared with that preset's full AdamW."""
    runs = [r for r in results["runs"] if r.get("status") == "ok"]
    full = next((r for r in runs if _method(r) == "full"), None)
    out = []
    for r in runs:
        row = {
            "name": r["name"], "method": _method(r), "val_loss": r["final_val_loss"],
            "val_loss_start": r["val_curve"][0][1] if r["val_curve"] and r["val_curve"][0][0] == 0 else None,
            "forget_loss": r["forget_val_loss"], "train_time_s": r["timing"]["train_time_s"],
            "median_step_ms": r["timing"]["ms_per_step_median"], "steady_peak_bytes": _steady_peak(r),
            # At the end (after the first re-tier; before it HiMA holds all of it) and the most at any time.
            "optimizer_state_bytes": r["optimizer_state"]["end_bytes"],
            "optimizer_state_max_bytes": r["optimizer_state"]["max_bytes"],
            "trainable_params": r.get("trainable_params"), "cold_end": (r.get("tiers_end") or {}).get("cold"),
        }
        if full is not None:
            c = compare(full, r)
            peak_full, peak = _steady_peak(full), _steady_peak(r)
            row.update({
                "val_gap": c["val_gap"], "e2e_speedup": c["e2e_speedup"], "ttq_s": c["ttq_s"],
                "ttq_speedup": c["ttq_speedup"], "val_at_equal_time": c["val_at_equal_time"],
                "peak_reduction": 1 - peak / peak_full if peak and peak_full else None,
                "state_reduction": 1 - row["optimizer_state_bytes"] / full["optimizer_state"]["end_bytes"],
            })
        out.append(row)
    return out


def summary_keys(by_preset: dict[str, list[dict]]) -> dict:
    small = {r["method"]: r for r in by_preset.get("small", [])}
    hima, full, lisa = small.get(HEADLINE), small.get("full"), small.get("lisa")
    loras = [small[m] for m in LORAS if m in small]
    lora = min(loras, key=lambda r: r["val_loss"]) if loras else None
    peak = lambda r: r["steady_peak_bytes"] if r else None
    return {
        "finetune_val_gap_hima": hima["val_gap"] if hima else None,
        "finetune_ttq_speedup": hima["ttq_speedup"] if hima else None,
        "finetune_peak_reduction": hima["peak_reduction"] if hima else None,
        "finetune_val_loss_full": full["val_loss"] if full else None,
        "finetune_val_loss_hima": hima["val_loss"] if hima else None,
        "finetune_val_loss_lisa": lisa["val_loss"] if lisa else None,
        "finetune_peak_lisa_vs_hima": peak(lisa) / peak(hima) if peak(lisa) and peak(hima) else None,
        "finetune_val_loss_lora": lora["val_loss"] if lora else None,
    }


def _f(v, spec=".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def markdown(env: dict, bases: dict, by_preset: dict[str, list[dict]], keys: dict) -> str:
    lines = ["# Fine-tuning: continued pre-training on a new corpus", "",
             f"GPU: {env.get('gpu') or 'cpu'}, torch {env.get('torch')}. Regenerate: `bash scripts/prepare-finetune-corpus.sh`, "
             "then `PYTHONPATH=trainer python -m bench.finetune --preset small` (and `--preset medium`), then "
             "`python -m bench.finetune_report`. Train time counts every step (evaluation excluded); TTQ is the time "
             "to full AdamW's final val loss (0: never reached); peak is the steady peak of allocated memory.", ""]
    for preset, rs in by_preset.items():
        base = bases.get(preset) or {}
        model, _, tag = preset.partition("-")
        title = f"GPT-2 {model.capitalize()}" + (f" (call {tag}: the same recipe, a base pre-trained again)" if tag else "")
        lines += [f"## {title}", "",
                  f"Base: full AdamW, {base.get('steps', '?')} steps on {base.get('corpus', '?')}, val {_f(base.get('val_loss'))}.", "",
                  "| method | val (new) | gap | loss on base corpus (before -> after) | train s | whole run | TTQ | steady peak | Adam state |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            forget = r["forget_loss"] or [None, None]
            lines.append(
                f"| {r['method']} | {_f(r['val_loss'])} | {_f(r.get('val_gap'), '+.3f')} | {_f(forget[0])} -> {_f(forget[1])} "
                f"| {_f(r['train_time_s'], '.1f')} | {_f(r.get('e2e_speedup'), '.2f')}x | {_f(r.get('ttq_speedup'), '.2f')}x "
                f"| {_f(r['steady_peak_bytes'] / 2**20 if r['steady_peak_bytes'] else None, ',.0f')} MiB "
                f"({_f(-r['peak_reduction'] * 100 if r.get('peak_reduction') is not None else None, '+.0f')}%) "
                f"| {_f(-r['state_reduction'] * 100 if r.get('state_reduction') is not None else None, '+.0f')}% |")
        lines.append("")
    targets = [
        ("HiMA val within 0.05 of full AdamW", keys["finetune_val_gap_hima"], lambda v: v <= 0.05),
        ("HiMA time-to-quality >= 1.25x", keys["finetune_ttq_speedup"], lambda v: v >= 1.25),
        ("HiMA steady peak >= 40% lower", keys["finetune_peak_reduction"], lambda v: v >= 0.40),
        ("HiMA better than LISA (val)", None if keys["finetune_val_loss_lisa"] is None or keys["finetune_val_loss_hima"] is None
         else keys["finetune_val_loss_lisa"] - keys["finetune_val_loss_hima"], lambda v: v > 0),
        ("... at equal or lower peak (LISA peak / HiMA peak >= 1)", keys["finetune_peak_lisa_vs_hima"], lambda v: v >= 1.0),
        ("HiMA better than LoRA (val)", None if keys["finetune_val_loss_lora"] is None or keys["finetune_val_loss_hima"] is None
         else keys["finetune_val_loss_lora"] - keys["finetune_val_loss_hima"], lambda v: v > 0),
    ]
    lines += ["## Targets (GPT-2 Small, HiMA = hima-50)", ""]
    for text, value, ok in targets:
        verdict = "not run" if value is None else ("met" if ok(value) else "MISSED")
        lines.append(f"- {text}: {verdict} ({_f(value)})")
    return "\n".join(lines) + "\n"


def write(runs_dir: str, out: str) -> dict:
    files = sorted(glob.glob(os.path.join(runs_dir, "finetune-*.json")))
    if not files:
        raise FileNotFoundError(f"no finetune-<preset>.json in {runs_dir} (run python -m bench.finetune first)")
    by_preset, bases, env, all_runs = {}, {}, {}, {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
        preset = os.path.basename(path)[len("finetune-"):-len(".json")]
        env = results.get("env") or env
        by_preset[preset] = rows(results)
        base = results.get("base")
        if base:
            bases[preset] = {"steps": base["config"]["steps"], "val_loss": base["final_val_loss"],
                             "corpus": base["config"]["corpus"]["source"], "train_time_s": base["timing"]["train_time_s"]}
        all_runs.update({r["name"]: r for r in results["runs"] if r.get("status") == "ok"})
    keys = summary_keys(by_preset)
    with open(os.path.join(out, "finetune.json"), "w", encoding="utf-8") as f:
        json.dump({"gpu": env.get("gpu"), "headline": HEADLINE, "bases": bases, "rows": by_preset, "summary": keys}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "finetune.md"), "w", encoding="utf-8") as f:
        f.write(markdown(env, bases, by_preset, keys))
    update_summary(out, keys)
    try:
        from . import plots
    except ImportError as e:
        print(f"[finetune_report] no plot ({e})", file=sys.stderr)
    else:
        groups = [(f"GPT-2 {p.capitalize()} fine-tuned", [all_runs[r["name"]] for r in rs]) for p, rs in by_preset.items()]
        plots._val_curves(out, all_runs, "finetune_val_vs_time.png", val_vs_time,
                          "training seconds (every step, evaluation excluded)", "val loss (new corpus) vs time", groups)
    return keys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.finetune_report", description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="docs/results/finetune", help="folder holding finetune-<preset>.json")
    p.add_argument("--out", default="docs/results", help="where finetune.json, finetune.md and the plot go")
    args = p.parse_args(argv)
    try:
        keys = write(args.runs, args.out)
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(keys, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
