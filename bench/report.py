"""Tables, headline numbers and plots from a suite's results.json.

    python -m bench.report [--out docs/results]

Writes <out>/summary.json (exactly the keys of issue 5), <out>/README.md (table, targets met/missed)
and, when matplotlib is importable, <out>/val_loss.png, memory.png, step_time.png. A human analysis of
missed targets can be kept in <out>/notes.md: it is appended to README.md verbatim.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import end_to_end

MIB = 1024 * 1024
# The HiMA setting the summary reports (50% Cold at the end): the best-quality recipe measured (no Warm, Cold
# ramped in over 50-95% of the budget, the stem training: HiMAConfig.freeze_stem False). The earlier headline,
# small-hima-50 (Warm, ramp 10-50%, stem frozen: faster, +0.96 in val loss), stays in the tables.
HEADLINE = "small-hima-50-later-nowarm-stem"
MEDIUM_HEADLINE = "medium-hima-50-later-nowarm-stem"

SUMMARY_KEYS = (
    "gpu", "medium_speedup", "small_adam_state_reduction", "small_peak_memory_reduction",
    "small_val_loss_full", "small_val_loss_hima_50", "small_val_loss_random_static_50",
    "small_val_loss_hima_no_warm_50", "controller_overhead", "monitoring_overhead",
    # whole runs (issue 11)
    "small_steps", "medium_steps", "small_e2e_speedup", "medium_e2e_speedup", "small_ttq_speedup",
    "medium_ttq_speedup", "small_steady_peak_reduction", "small_adam_state_reduction_stable",
    "small_adam_state_stable_cutoffs", "compile_seconds_full", "compile_seconds_hima", "library_model",
    "library_model_e2e_speedup", "budget_gib", "max_batch_full", "max_batch_hima",
    # quality (issue 12)
    "small_val_gap_hima_50", "small_val_gap_seeds", "small_val_loss_hima_no_warm_hot_50",
    "small_val_loss_hima_no_warm_cold_50", "small_tradeoff",
)
STABLE_GAP = 0.15  # the largest val-loss gap to full AdamW at which a setting counts as trading no quality
LIBRARY = ("small-hf-full", "small-hf-hima-50", "Hugging Face transformers GPT2LMHeadModel (124M)")


def load_runs(out: str) -> dict[str, dict]:
    path = os.path.join(out, "results.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {path}: run the suite first (python -m bench.gpu_suite --part ...)")
    with open(path, encoding="utf-8") as f:
        return {r["name"]: r for r in json.load(f)["runs"]}


def _ok(runs: dict, name: str) -> dict | None:
    run = runs.get(name)
    return run if run is not None and run.get("status") == "ok" else None


def _ms(run: dict) -> float:
    return run["timing"]["ms_per_step_median"]


def _ratio(runs, a: str, b: str, fn) -> float | None:
    """fn(a) / fn(b), or None when either run is missing or failed."""
    ra, rb = _ok(runs, a), _ok(runs, b)
    if ra is None or rb is None:
        return None
    den = fn(rb)
    return None if not den else fn(ra) / den


def paired_overhead(runs: dict, a: str, b: str) -> dict | None:
    """Overhead of run a over run b. Interleaved runs of one session (bench/interleaved.py): the median over
    rounds of a's segment / b's segment of the same round, minus 1, with the min/max over rounds. Otherwise
    (runs made one after another) the ratio of their medians, marked unpaired: drift is not cancelled."""
    ra, rb = _ok(runs, a), _ok(runs, b)
    if ra is None or rb is None:
        return None
    ia, ib = ra.get("interleaved"), rb.get("interleaved")
    if ia and ib and ia.get("session") == ib.get("session"):
        ratios = [x / y for x, y in zip(ia["segment_ms_per_step"], ib["segment_ms_per_step"])]
        ordered = sorted(ratios)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        return {"overhead": median - 1.0, "min": ordered[0] - 1.0, "max": ordered[-1] - 1.0,
                "rounds": len(ratios), "per_round": [r - 1.0 for r in ratios], "paired": True}
    return {"overhead": _ms(ra) / _ms(rb) - 1.0, "paired": False}


def _overhead_text(o: dict | None) -> str:
    if o is None:
        return "n/a"
    if not o["paired"]:
        return f"{_pct(o['overhead'])} (unpaired: two runs made one after another)"
    return (f"{_pct(o['overhead'])} (median of {o['rounds']} interleaved rounds; "
            f"rounds {100 * o['min']:+.1f}% .. {100 * o['max']:+.1f}%)")


def _steady_peak(run: dict) -> int | None:
    mem = run["memory"]
    return mem.get("steady_peak_allocated_bytes") or mem.get("peak_allocated_bytes")


def summarize(runs: dict[str, dict]) -> dict:
    def val(name: str) -> float | None:
        run = _ok(runs, name)
        return run["final_val_loss"] if run else None

    def reduction(fn) -> float | None:
        r = _ratio(runs, HEADLINE, "small-full", fn)
        return None if r is None else 1.0 - r

    def overhead(a: str, b: str) -> float | None:
        o = paired_overhead(runs, a, b)
        return None if o is None else o["overhead"]

    def whole(full: str, hima: str) -> dict | None:
        a, b = _ok(runs, full), _ok(runs, hima)
        return end_to_end.compare(a, b) if a and b else None

    small, medium, library = whole("small-full", HEADLINE), whole("medium-full", MEDIUM_HEADLINE), whole(*LIBRARY[:2])
    full_run, full_seed2 = _ok(runs, "small-full"), _ok(runs, "small-full-seed2")
    stable = _stable_setting(runs)
    speedup = _ratio(runs, "medium-full", MEDIUM_HEADLINE, _ms)
    seed2 = whole("small-full-seed2", HEADLINE + "-seed2")
    gpu = next((r["env"]["gpu"] for r in runs.values() if r.get("env", {}).get("gpu")), None)
    summary = {
        "gpu": gpu,
        "medium_speedup": speedup,
        "small_adam_state_reduction": reduction(lambda r: r["optimizer_state"]["end_bytes"]),
        "small_peak_memory_reduction": reduction(_steady_peak),
        "small_val_loss_full": val("small-full"),
        "small_val_loss_hima_50": val(HEADLINE),
        "small_val_loss_random_static_50": val("small-random-static-50"),
        "small_val_loss_hima_no_warm_50": val("small-hima-no-warm-hot-50"),  # the same reading (Warm -> Hot)
        "controller_overhead": overhead("overhead-hima-all-hot", "overhead-full"),
        "monitoring_overhead": overhead("overhead-hima-all-hot-events", "overhead-hima-all-hot"),
        "small_steps": full_run["config"]["steps"] if full_run else None,
        "medium_steps": _ok(runs, "medium-full")["config"]["steps"] if _ok(runs, "medium-full") else None,
        "small_e2e_speedup": small and small["e2e_speedup"],
        "medium_e2e_speedup": medium and medium["e2e_speedup"],
        "small_ttq_speedup": small and small["ttq_speedup"],
        "medium_ttq_speedup": medium and medium["ttq_speedup"],
        "small_steady_peak_reduction": reduction(_steady_peak),
        "small_adam_state_reduction_stable": stable and stable[1],
        "small_adam_state_stable_cutoffs": stable and stable[0],
        "compile_seconds_full": small and small["compile_s"][0],
        "compile_seconds_hima": small and small["compile_s"][1],
        "library_model": LIBRARY[2] if library else None,
        "library_model_e2e_speedup": library and library["e2e_speedup"],
        "budget_gib": None,  # filled from memory_budget.json (bench.memory_budget) when it was run
        "max_batch_full": None,
        "max_batch_hima": None,
        "small_val_gap_hima_50": small and small["val_gap"],
        # the headline setting at seed 1337 and seed 2, each against full AdamW of the same seed
        "small_val_gap_seeds": [c["val_gap"] for c in (small, seed2) if c],
        "small_val_loss_hima_no_warm_hot_50": val("small-hima-no-warm-hot-50"),
        "small_val_loss_hima_no_warm_cold_50": val("small-hima-no-warm-cold-50"),
        "small_tradeoff": tradeoff(runs),
    }
    assert tuple(summary) == SUMMARY_KEYS
    return summary


def _stable_setting(runs: dict) -> tuple[list[float], float] | None:
    """(cutoffs, Adam-state reduction) of the Small HiMA run with the largest reduction whose val-loss gap to
    small-full is at most STABLE_GAP; None when no run stays within it."""
    full = _ok(runs, "small-full")
    if full is None:
        return None
    best = None
    for r in runs.values():
        if r.get("status") != "ok" or not r["name"].startswith("small-") or r["config"]["method"] == "full":
            continue
        if r["spec"].get("model", "gpt") != "gpt" or r["final_val_loss"] - full["final_val_loss"] > STABLE_GAP:
            continue
        cut = 1.0 - r["optimizer_state"]["end_bytes"] / full["optimizer_state"]["end_bytes"]
        if best is None or cut > best[1]:
            best = ([r["config"]["hot"], r["config"]["warm"]], cut)
    return best


def tradeoff(runs: dict) -> list[dict]:
    """Every Small GPT HiMA run of the suite's budget: its Cold share (end and time-averaged), val loss and
    whole-run speedup over small-full, by end Cold share."""
    full = _ok(runs, "small-full")
    points = [{"name": "small-full", "cold_share": 0.0, "mean_cold_share": 0.0,
               "val_loss": full["final_val_loss"], "e2e_speedup": 1.0}] if full else []
    for r in runs.values():
        if r.get("status") != "ok" or not r["name"].startswith("small-") or not r.get("cold_share_curve"):
            continue
        if r["spec"].get("model", "gpt") != "gpt" or (full and r["config"]["steps"] != full["config"]["steps"]):
            continue
        points.append({
            "name": r["name"], "cold_share": round(r["cold_share_curve"][-1][1], 4),
            "mean_cold_share": round(end_to_end.mean_cold_share(r), 4), "val_loss": r["final_val_loss"],
            "e2e_speedup": end_to_end.compare(full, r)["e2e_speedup"] if full else None,
        })
    return sorted(points, key=lambda p: (p["cold_share"], p["val_loss"]))


def whole_run_lines(runs: dict) -> list[str]:
    """Every HiMA run against the plain AdamW run of its model and budget: the whole-run table."""
    head = ("| run | vs | ramp (steps) | Cold share end / mean | train time s | e2e speedup (no compile) | median step "
            "| val loss | gap | TTQ speedup | val at equal time (full / run) | compiles (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in runs.values():
        if r.get("status") != "ok" or r["config"]["method"] == "full":
            continue
        name = r["name"]
        base = "small-hf-full" if r["spec"].get("model") == "hf-gpt2" else ("medium-full" if name.startswith("medium-") else "small-full")
        b = _ok(runs, base)
        if b is None or b["config"]["steps"] != r["config"]["steps"]:
            continue
        c = end_to_end.compare(b, r)
        curve = r.get("cold_share_curve") or [[0, 0.0]]
        mean = end_to_end.mean_cold_share(r)
        eq = c["val_at_equal_time"]
        lines.append(
            f"| {name} | {base} | {r['config'].get('ramp_steps')} | {_pct(curve[-1][1])} / {_pct(mean)} "
            f"| {c['train_time_s'][1]:.1f} vs {c['train_time_s'][0]:.1f} | {c['e2e_speedup']:.2f}x "
            f"({_fmt(c['e2e_speedup_without_compile'], '.2f')}x) | {c['median_step_speedup']:.2f}x | {r['final_val_loss']:.3f} "
            f"| {c['val_gap']:+.3f} | {c['ttq_speedup']:.2f}x | {_fmt(eq[0])} / {_fmt(eq[1])} "
            f"| {r['compile']['frames_compiled']} ({r['compile']['compile_s']:.1f}) |")
    return lines


def _fmt(value, spec: str = ".3f", none: str = "n/a") -> str:
    return none if value is None else format(value, spec)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def targets(runs: dict, s: dict) -> list[tuple[str, bool | None, str]]:
    """(target, met?, the measured number) for each target of issue 5; met is None when not measured."""
    def check(value, ok) -> bool | None:
        return None if value is None else bool(ok(value))

    med_full, med_hima = _ok(runs, "medium-full"), _ok(runs, MEDIUM_HEADLINE)
    gap = med_hima["final_val_loss"] - med_full["final_val_loss"] if med_full and med_hima else None
    sp = s["medium_speedup"]
    vh, vr, vn = s["small_val_loss_hima_50"], s["small_val_loss_random_static_50"], s["small_val_loss_hima_no_warm_50"]
    def met(key, ok):
        return check(s.get(key), ok)

    issue11 = [
        ("Small whole-run speedup >= 1.16x (aim 1.25x)", met("small_e2e_speedup", lambda v: v >= 1.16), _fmt(s.get("small_e2e_speedup"), ".3f")),
        ("Medium whole-run speedup >= 1.16x", met("medium_e2e_speedup", lambda v: v >= 1.16), _fmt(s.get("medium_e2e_speedup"), ".3f")),
        ("Small time-to-quality speedup >= 1.16x", met("small_ttq_speedup", lambda v: v >= 1.16), _fmt(s.get("small_ttq_speedup"), ".3f")),
        ("Medium time-to-quality speedup >= 1.16x", met("medium_ttq_speedup", lambda v: v >= 1.16), _fmt(s.get("medium_ttq_speedup"), ".3f")),
        ("Small steady peak -32.4% at 50% Cold (aim -40%)", met("small_steady_peak_reduction", lambda v: v >= 0.324), _pct(s.get("small_steady_peak_reduction"))),
        (f"Adam state -72.8% at a setting whose gap <= {STABLE_GAP}", met("small_adam_state_reduction_stable", lambda v: v >= 0.728) if s.get("small_adam_state_reduction_stable") is not None else (False if s.get("small_val_loss_full") is not None else None),
         _pct(s.get("small_adam_state_reduction_stable")) if s.get("small_adam_state_reduction_stable") is not None else "no HiMA setting stayed within the gap"),
        ("Library model whole-run speedup >= 1.10x", met("library_model_e2e_speedup", lambda v: v >= 1.10), _fmt(s.get("library_model_e2e_speedup"), ".3f")),
        ("Small val gap HiMA 50% - full <= 0.15 (aim 0.05)", met("small_val_gap_hima_50", lambda v: v <= 0.15), _fmt(s.get("small_val_gap_hima_50"), "+.3f")),
        ("HiMA 50% beats random-static 50% by >= 1.0", check(vh if vr is not None else None, lambda v: vr - v >= 1.0), f"{_fmt(vh)} vs {_fmt(vr)}"),
    ]
    return issue11 + [
        ("Medium speedup >= 1.16x (published)", check(sp, lambda v: v >= 1.16), _fmt(sp, '.3f') + "x" if sp is not None else "n/a"),
        ("Medium speedup >= 1.25x at val-loss gap <= 0.15", check(sp if gap is not None else None, lambda v: v >= 1.25 and gap <= 0.15),
         f"{_fmt(sp, '.3f')}, gap {_fmt(gap, '+.3f')}"),
        ("Small Adam-state reduction >= 72.8%", check(s["small_adam_state_reduction"], lambda v: v >= 0.728), _pct(s["small_adam_state_reduction"])),
        ("Small peak-memory reduction >= 32.4%", check(s["small_peak_memory_reduction"], lambda v: v >= 0.324), _pct(s["small_peak_memory_reduction"])),
        ("Small peak-memory reduction >= 40% (aim)", check(s["small_peak_memory_reduction"], lambda v: v >= 0.40), _pct(s["small_peak_memory_reduction"])),
        ("HiMA 50% Cold clearly better than random-static 50% (val loss lower by > 0.05)",
         check(vh if vr is not None else None, lambda v: vr - v > 0.05), f"{_fmt(vh)} vs {_fmt(vr)}"),
        ("hima-no-warm worse than hima (50% Cold)", check(vh if vn is not None else None, lambda v: vn > v), f"{_fmt(vn)} vs {_fmt(vh)}"),
        ("Controller overhead <= 2%", check(s["controller_overhead"], lambda v: v <= 0.02),
         _overhead_text(paired_overhead(runs, "overhead-hima-all-hot", "overhead-full"))),
        ("Monitoring overhead <= 1%", check(s["monitoring_overhead"], lambda v: v <= 0.01),
         _overhead_text(paired_overhead(runs, "overhead-hima-all-hot-events", "overhead-hima-all-hot"))),
    ]


def _mib(b) -> str:
    return "n/a" if b is None else f"{b / MIB:,.0f}"


def run_table(runs: dict[str, dict]) -> list[str]:
    head = ("| run | method | hot/warm | compile | steps | ms/step (median) | tokens/s | peak MiB (run / steady) "
            "| Adam state MiB (end / max) | update compute saved | final val loss | compiles (train / eval / limit hits) "
            "| Hot / Warm / Cold tensors at end |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in runs.items():
        spec = r["spec"]
        if r.get("status") != "ok":
            lines.append(f"| {name} | {spec['method']} | | | | failed: {r.get('error', '?')[:120]} | | | | | | | |")
            continue
        c, t, m, o, k = r["config"], r["timing"], r["memory"], r["optimizer_state"], r["compile"]
        tiers = r.get("tiers_end")
        tier_text = "/".join(str(tiers[x]["tensors"]) for x in ("hot", "warm", "cold")) if tiers else "all Hot (plain AdamW)"
        cutoffs = f"{c['hot']}/{c['warm']}" if spec["engine"] and c["method"] != "random-static" else (
            f"{spec['random_cold_fraction']} Cold" if c["method"] == "random-static" else "-")
        lines.append(
            f"| {name} | {c['method']}{'' if spec['engine'] else ' (plain AdamW)'} | {cutoffs} | {c['compile']} | {c['steps']} "
            f"| {t['ms_per_step_median']:.2f} | {t['tokens_per_s']:,.0f} | {_mib(m.get('peak_allocated_bytes'))} / {_mib(m.get('steady_peak_allocated_bytes'))} "
            f"| {_mib(o['end_bytes'])} / {_mib(o['max_bytes'])} | {100 * r['update_compute_saved']:.1f}% | {r['final_val_loss']:.4f} "
            f"| {len(k['train_compiles_at_steps'])} / {k['eval_compiles']} / {k.get('recompile_limit_hits', 'n/a')} | {tier_text} |"
        )
    return lines


OVERHEAD_PAIRS = (  # (what is measured, the run, the run it is compared with)
    ("controller (all-Hot HiMA vs plain AdamW)", "overhead-hima-all-hot", "overhead-full"),
    ("engine path (method full through Trainer.train_step vs plain AdamW)", "overhead-full-engine", "overhead-full"),
    ("monitoring (events on vs off, all-Hot HiMA)", "overhead-hima-all-hot-events", "overhead-hima-all-hot"),
)


BACKWARD_PAIRS = (  # the per-step price of the stem under a 50% Cold prefix (bench.suite.BACKWARD)
    ("50% Cold, stem training (backward through the Cold blocks) vs plain AdamW", "backward-stem", "backward-full"),
    ("50% Cold, stem frozen vs plain AdamW", "backward-frozen", "backward-full"),
    ("stem frozen vs stem training", "backward-frozen", "backward-stem"),
)


def overhead_lines(runs: dict[str, dict]) -> list[str]:
    """The overhead figures with their spread, and each round's ms/step so a reader sees the drift."""
    lines = []
    for what, a, b in OVERHEAD_PAIRS + BACKWARD_PAIRS:
        o = paired_overhead(runs, a, b)
        if o is not None:
            lines.append(f"- {what}: {_overhead_text(o)}")
    inter = [r for r in runs.values() if r.get("status") == "ok" and r.get("interleaved")]
    if not inter:
        return lines
    i0 = inter[0]["interleaved"]
    lines += ["", f"Every config built once and warmed up ({i0['warmup_steps']} steps each), then {i0['rounds']} rounds; a round "
              f"trains {i0['segment_steps']} steps of every config, in an order rotated by one each round, each segment timed "
              "with CUDA events on a GPU (device idle between segments). Overhead = median over rounds of (config / compared run in "
              "the same round) - 1; the range is the min/max over rounds. ms/step of each segment:", ""]
    head = "| run | " + " | ".join(f"round {k + 1}" for k in range(i0["rounds"])) + " |"
    lines += [head, "|" + "---|" * (i0["rounds"] + 1)]
    for r in inter:
        it = r["interleaved"]
        compiles = it.get("compiles_in_segment") or [0] * len(it["segment_ms_per_step"])
        cells = [f"{ms:.2f} (#{pos + 1}{', compiled' if c else ''})"
                 for ms, pos, c in zip(it["segment_ms_per_step"], it["position_in_round"], compiles)]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    lines += ["", "(#n: the run's place in that round's order; \"compiled\": Dynamo compiled during that segment, "
              "so that round's ratio includes compile time.)"]
    return lines


def _mean_all(run: dict) -> float:
    t = run["timing"]
    return t.get("ms_per_step_mean_all") or sum(t["step_ms"]) / len(t["step_ms"])


def speedup_lines(runs: dict[str, dict]) -> list[str]:
    """Medium speedup three ways: the headline median, the mean over every step, and wall time to the budget."""
    full, hima = _ok(runs, "medium-full"), _ok(runs, MEDIUM_HEADLINE)
    if full is None or hima is None:
        return ["Not measured (medium-full and medium-hima-50 are both needed)."]
    t_full, t_hima = full["timing"], hima["timing"]
    steps = full["config"]["steps"]
    wf, wh = t_full.get("wall_time_no_eval_s"), t_hima.get("wall_time_no_eval_s")
    wall = f"{wf:.1f} s vs {wh:.1f} s: {wf / wh:.3f}x" if wf and wh else "n/a (not recorded by this run's bench version)"
    return [
        f"- Median ms/step over steps {t_full['steady_from_step']}..{steps - 1} (the headline `medium_speedup`): "
        f"{_ms(full):.2f} vs {_ms(hima):.2f}: {_ms(full) / _ms(hima):.3f}x. The median is the typical step: it includes "
        "HiMA's ordinary steps but not the rarer Warm-update, probe and re-tier steps, which are slower.",
        f"- Mean ms/step over steps {t_full['steady_from_step']}..{steps - 1} (Warm/probe/re-tier steps and the "
        f"recompiles they cause included): {t_full['ms_per_step_mean_steady']:.2f} vs {t_hima['ms_per_step_mean_steady']:.2f}: "
        f"{t_full['ms_per_step_mean_steady'] / t_hima['ms_per_step_mean_steady']:.3f}x",
        f"- Mean ms/step over all {steps} steps (compiles, Warm/probe/re-tier steps included; evaluation excluded): "
        f"{_mean_all(full):.2f} vs {_mean_all(hima):.2f}: {_mean_all(full) / _mean_all(hima):.3f}x",
        f"- Wall time to the same {steps}-step budget, evaluation excluded (host clock): {wall}",
    ]


def _setup_lines(runs: dict[str, dict]) -> list[str]:
    ok = [r for r in runs.values() if r.get("status") == "ok"]
    if not ok:
        return ["No run finished."]
    env, c = ok[0]["env"], ok[0]["config"]
    corpus = c["corpus"]
    budgets = sorted({(r["config"]["preset"], r["config"]["steps"]) for r in ok})
    return [
        f"- GPU: {env['gpu'] or 'none (CPU)'}; torch {env['torch']} (CUDA {env['cuda']}); Python {env['python']}",
        f"- Precision: weights and AdamW state {c['weight_dtype']}, autocast {c['autocast'] or 'off'}, fused AdamW: {c['fused_adamw']}; "
        f"SDPA attention; vocabulary padded to a multiple of 64",
        f"- Batch {c['batch']} x sequence {c['seq_len']} = {c['batch'] * c['seq_len']:,} tokens/step; seed {c['seed']}; "
        f"data order: {c['data_order']} (no token seen twice: {corpus['steps_before_repeat']:,} steps fit before a repeat)",
        f"- Corpus: {corpus['source'] or corpus['dir']} ({corpus['n_train']:,} train / {corpus['n_val']:,} val tokens, vocab {corpus['vocab_size']:,})",
        f"- Step budgets: {', '.join(f'{p} {n}' for p, n in budgets)}; LR {c['lr']} (Small) with warmup + cosine; "
        f"validation on {c['eval_batches']} fixed batches every {c['eval_every']} steps",
        "- ms/step: median of per-step device-timed durations after the warmup steps (CUDA events, one sync at the end);"
        " evaluation excluded. Peak memory: torch.cuda.max_memory_allocated, reset after model + optimizer creation"
        " (run) and again after the first re-tier (steady); the headline reduction uses the steady figure.",
    ]


def write_readme(out: str, runs: dict, summary: dict, plots: list[str]) -> str:
    lines = ["# GPU benchmark results", "", "Regenerate: see the bench command in the project README "
             "(`PYTHONPATH=trainer python -m bench.gpu_suite --part small|medium|overhead`, then `python -m bench.report`).", ""]
    lines += ["## Setup", ""] + _setup_lines(runs) + ["", "## Runs", ""] + run_table(runs)
    lines += ["", "## Whole runs against full AdamW (every step counted, evaluation excluded)", ""] + whole_run_lines(runs)
    lines += ["", "## Medium speedup", ""] + speedup_lines(runs)
    lines += ["", "## Overheads", ""] + (overhead_lines(runs) or ["Not measured."])
    lines += ["", "## Targets", "", "| target | result | measured |", "|---|---|---|"]
    for text, met, measured in targets(runs, summary):
        lines.append(f"| {text} | {'not measured' if met is None else ('met' if met else '**missed**')} | {measured} |")
    lines += ["", "## Headline numbers (summary.json)", "", "```json", json.dumps(summary, indent=1), "```"]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    notes = os.path.join(out, "notes.md")
    if os.path.isfile(notes):
        with open(notes, encoding="utf-8") as f:
            lines += ["", f.read().rstrip()]
    path = os.path.join(out, "README.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def update_summary(out: str, keys: dict) -> dict:
    """Write ``keys`` into <out>/summary.json, keeping the keys other reports own (bench.finetune_report's)."""
    path = os.path.join(out, "summary.json")
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        summary = {}
    summary.update(keys)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    return summary


def write_report(out: str) -> dict:
    runs = load_runs(out)
    keys = summarize(runs)
    budget = os.path.join(out, "memory_budget.json")  # bench.memory_budget's search, when it was run
    if os.path.exists(budget):
        with open(budget, encoding="utf-8") as f:
            b = json.load(f)
        keys.update(budget_gib=b["budget_gib"], max_batch_full=b["max_batch"]["full"], max_batch_hima=b["max_batch"]["hima"])
    summary = update_summary(out, keys)
    try:
        from . import plots
    except ImportError as e:  # matplotlib absent (e.g. on the GPU machine): tables only, plots later
        print(f"[report] no plots ({e}); run `python -m bench.report --out {out}` where matplotlib is installed",
              file=sys.stderr)
        written = []
    else:
        written = plots.write_plots(out, runs)
    write_readme(out, runs, summary, written)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="docs/results", help="results folder holding results.json")
    args = p.parse_args(argv)
    try:
        summary = write_report(args.out)
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
