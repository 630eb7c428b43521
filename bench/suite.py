"""The runs of the GPU suite, by name, and the parts they are grouped into.

Every run of one suite call shares the data order, seed, batch and sequence length; a run differs only
in what its spec says (model preset, method, cutoffs, compilation, events). Parts are sized so that
each finishes in under 9 minutes on one H100 (the device command limit is 10 minutes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RunSpec:
    name: str
    preset: str  # "small" | "medium" (the smoke test swaps in "tiny")
    method: str  # "full" | "hima" | "random-static" | "hima-no-warm"
    hot: float = 1.0
    warm: float = 1.0
    random_cold_fraction: float | None = None  # random-static only
    compile: str = "block"  # "block" (each transformer block), "whole" (full only), "none" (eager)
    events: bool = False  # write protocol events to <run dir>/events.jsonl, as the trainer does
    steps_key: str = "steps"  # which step budget applies: "steps" (Small), "medium_steps", "overhead_steps"
    engine: bool = True  # False: plain torch AdamW with no HiMA wrapper at all (the baseline a user runs)

    def to_json(self) -> dict:
        return asdict(self)


# Cutoffs are cumulative fractions of parameter elements (Cold share = 1 - warm).
HIMA_40 = (0.3, 0.6)  # 40% Cold
HIMA_50 = (0.25, 0.5)  # 50% Cold: the headline setting
HIMA_70 = (0.1, 0.3)  # 70% Cold: the most aggressive setting in the suite

SMALL = [
    RunSpec("small-full", "small", "full", engine=False),
    RunSpec("small-full-eager", "small", "full", engine=False, compile="none"),
    RunSpec("small-hima-40", "small", "hima", *HIMA_40),
    RunSpec("small-hima-50", "small", "hima", *HIMA_50),
    RunSpec("small-hima-70", "small", "hima", *HIMA_70),
    RunSpec("small-random-static-50", "small", "random-static", random_cold_fraction=0.5),
    RunSpec("small-hima-no-warm-50", "small", "hima-no-warm", *HIMA_50),
]

MEDIUM = [
    RunSpec("medium-full", "medium", "full", engine=False, steps_key="medium_steps"),
    RunSpec("medium-hima-50", "medium", "hima", *HIMA_50, steps_key="medium_steps"),
]

# Controller overhead: HiMA with every tensor Hot vs plain AdamW. Monitoring overhead: that same all-Hot
# run with the event stream written (step, memory, tiers at every re-tier, eval). All-Hot because every
# step then does the same work: with real tiers, two runs of one config drift apart (GPU atomics change
# scores, so tiers and the Warm/probe step mix differ) by more than the 1% being measured.
OVERHEAD = [
    RunSpec("overhead-full", "small", "full", engine=False, steps_key="overhead_steps"),
    # method "full" through the trainer's step (HiMA wrapper, scores, no tiers): must be within 2% of the bare loop
    RunSpec("overhead-full-engine", "small", "full", steps_key="overhead_steps"),
    RunSpec("overhead-hima-all-hot", "small", "hima", 1.0, 1.0, steps_key="overhead_steps"),
    RunSpec("overhead-hima-all-hot-events", "small", "hima", 1.0, 1.0, events=True, steps_key="overhead_steps"),
]

# Reference points that are not needed for the summary: eager HiMA and whole-model compiled AdamW
# (what a user without HiMA would run; HiMA itself refuses whole-model compilation).
EXTRA = [
    RunSpec("small-hima-50-events", "small", "hima", *HIMA_50, events=True),  # events at a real tier mix
    RunSpec("small-hima-50-eager", "small", "hima", *HIMA_50, compile="none"),
    RunSpec("small-full-whole", "small", "full", engine=False, compile="whole"),
    RunSpec("medium-full-whole", "medium", "full", engine=False, compile="whole", steps_key="medium_steps"),
    RunSpec("medium-full-eager", "medium", "full", engine=False, compile="none", steps_key="medium_steps"),
]

PARTS: dict[str, list[RunSpec]] = {"small": SMALL, "medium": MEDIUM, "overhead": OVERHEAD, "extra": EXTRA}
ALL_RUNS: dict[str, RunSpec] = {spec.name: spec for part in PARTS.values() for spec in part}


def select_runs(parts: list[str], only: list[str]) -> list[RunSpec]:
    """The runs named by --part and --only, in suite order, without duplicates."""
    unknown_parts = [p for p in parts if p not in PARTS and p != "all"]
    if unknown_parts:
        raise ValueError(f"unknown part(s) {', '.join(unknown_parts)}; choose from {', '.join(PARTS)}, all")
    unknown_runs = [n for n in only if n not in ALL_RUNS]
    if unknown_runs:
        raise ValueError(f"unknown run(s) {', '.join(unknown_runs)}; known runs: {', '.join(ALL_RUNS)}")
    wanted = set(only)
    for p in parts:
        wanted.update(s.name for s in (ALL_RUNS.values() if p == "all" else PARTS[p]))
    return [spec for spec in ALL_RUNS.values() if spec.name in wanted]
