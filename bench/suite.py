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
    method: str  # "full" | "hima" | "random-static" | "hima-no-warm" | "hima-no-warm-cold" | "lisa" | "lora"
    hot: float = 1.0
    warm: float = 1.0
    random_cold_fraction: float | None = None  # random-static only
    compile: str = "block"  # "block" (each transformer block), "whole" (full only), "none" (eager)
    events: bool = False  # write protocol events to <run dir>/events.jsonl, as the trainer does
    steps_key: str = "steps"  # which step budget applies: "steps" (Small), "medium_steps", "overhead_steps"
    engine: bool = True  # False: plain torch AdamW with no HiMA wrapper at all (the baseline a user runs)
    layout: str | None = None  # HiMA layout ("depth" | "tensor"); None: the engine's default
    ramp: tuple[float, float] | None = None  # Warm/Cold ramp as fractions of the budget; None: the suite's
    seed: int | None = None  # None: the suite's --seed
    model: str = "gpt"  # "gpt" (hima.app.model) or "hf-gpt2" (Hugging Face transformers' GPT2LMHeadModel, via the hima API)
    warm_every: int | None = None  # None: the engine's default (4)
    warm_placement: str | None = None  # None: the engine's default
    first_retier: int | None = None  # None: the suite's --retier-every (or the preset's)
    group: str | None = None  # runs of one group share a GPU (and run in suite order) under --gpus N
    # Fine-tuning (bench/finetune.py): start from these weights (hima.app.base_weights), save the trained weights.
    init_from: str | None = None
    save_weights: str | None = None
    lr: float | None = None  # None: the preset's
    lora_rank: int | None = None  # method "lora": LoRA adapters of this rank through peft (plain AdamW on them)
    # Depth layout: may the stem (embeddings) be Cold with the prefix? True for every run recorded before the
    # engine's default became False (HiMAConfig.freeze_stem); the "-stem" runs keep it training.
    freeze_stem: bool = True

    def to_json(self) -> dict:
        return asdict(self)


# Cutoffs are cumulative fractions of parameter elements (Cold share = 1 - warm). With the depth layout the
# tied embedding/LM head (31% of GPT-2 Small) is in the head unit, never Cold by depth: 50% Cold is the stem and
# the bottom 9 of 12 blocks.
HIMA_50 = (0.4, 0.5)  # 50% Cold, 10% Warm: the headline setting (depth layout)
HIMA_30 = (0.6, 0.7)
HIMA_70 = (0.2, 0.3)  # capped by depth: at most the stem and every block can be Cold (69% of GPT-2 Small)
TENSOR_50 = (0.25, 0.5)  # the tensor layout's 50% setting before the depth layout (docs/results of session 8)
RAMP = (0.1, 0.5)  # Warm and Cold shares ramp in from 10% to 50% of the budget
NO_RAMP = (0.0, 0.0)
LATE = (0.3, 0.9)
LATER = (0.5, 0.95)

SMALL = [
    RunSpec("small-full", "small", "full", engine=False, group="pair"),
    RunSpec("small-hima-50", "small", "hima", *HIMA_50, ramp=RAMP, group="pair"),
    RunSpec("small-hima-50-tensor", "small", "hima", *TENSOR_50, layout="tensor", ramp=NO_RAMP, group="pair"),
    RunSpec("small-hima-50-noramp", "small", "hima", *HIMA_50, ramp=NO_RAMP, group="ramp"),
    RunSpec("small-hima-50-early", "small", "hima", *HIMA_50, ramp=(0.05, 0.25), group="ramp"),
    RunSpec("small-hima-30", "small", "hima", *HIMA_30, ramp=RAMP, group="ramp"),
    # "Without Warm", both readings at the same cutoffs: Warm tensors Hot (same Cold share, more compute) or
    # Cold (Cold share 1 - hot, less compute).
    RunSpec("small-hima-no-warm-hot-50", "small", "hima-no-warm", *HIMA_50, ramp=RAMP, group="ablation"),
    RunSpec("small-hima-no-warm-cold-50", "small", "hima-no-warm-cold", *HIMA_50, ramp=RAMP, group="ablation"),
    RunSpec("small-hima-70", "small", "hima", *HIMA_70, ramp=RAMP, group="ablation"),
    RunSpec("small-random-static-50", "small", "random-static", random_cold_fraction=0.5, group="medium"),
    # Warm as a band by depth right above the Cold prefix: it keeps learning (every k steps), and on the steps
    # it rests the backward pass stops above it.
    RunSpec("small-hima-warmband-50", "small", "hima", 0.5, 1.0, warm_placement="depth", ramp=NO_RAMP, group="band"),
    RunSpec("small-hima-warmband-50-k2", "small", "hima", 0.5, 1.0, warm_placement="depth", warm_every=2,
            ramp=NO_RAMP, group="band"),
    RunSpec("small-hima-50-late", "small", "hima", *HIMA_50, ramp=LATE, group="band"),
    RunSpec("small-full-seed2", "small", "full", engine=False, seed=2, group="band"),
    # Late ramps without Warm (Warm measured no better than Cold, and worse at its sqrt(k) lr scale).
    RunSpec("small-hima-50-late-nowarm", "small", "hima", 0.5, 0.5, ramp=LATE, group="late"),
    RunSpec("small-hima-50-later-nowarm", "small", "hima", 0.5, 0.5, ramp=LATER, group="late"),
    RunSpec("small-hima-30-late-nowarm", "small", "hima", 0.7, 0.7, ramp=LATE, group="late"),
    # One trade-off curve at one setting (no Warm, Cold ramped in over 50-95% of the budget): 10..70% Cold; the
    # 50% point again with seed 2, and a later ramp; the headline setting with seed 2 (the noise of the gap).
    RunSpec("small-hima-10-later-nowarm", "small", "hima", 0.9, 0.9, ramp=LATER, group="curve-a"),
    RunSpec("small-hima-30-later-nowarm", "small", "hima", 0.7, 0.7, ramp=LATER, group="curve-a"),
    RunSpec("small-hima-70-later-nowarm", "small", "hima", 0.3, 0.3, ramp=LATER, group="curve-a"),
    RunSpec("small-hima-50-later-nowarm-seed2", "small", "hima", 0.5, 0.5, ramp=LATER, seed=2, group="curve-b"),
    RunSpec("small-hima-50-latest-nowarm", "small", "hima", 0.5, 0.5, ramp=(0.7, 1.0), group="curve-b"),
    RunSpec("small-hima-50-seed2", "small", "hima", *HIMA_50, ramp=RAMP, seed=2, group="curve-b"),
    # The stem (position embeddings, the tied embedding's input side) kept training (recorded with the stem pinned
    # Hot, before freeze_stem existed; the same tiers): is freezing the input side
    # what costs quality at small Cold shares (10% Cold, mostly the stem and block 0, cost +0.08)?
    RunSpec("small-hima-10-later-nowarm-stem", "small", "hima", 0.9, 0.9, ramp=LATER, freeze_stem=False, group="stem-a"),
    RunSpec("small-hima-50-later-nowarm-stem", "small", "hima", 0.5, 0.5, ramp=LATER, freeze_stem=False, group="stem-a"),
    RunSpec("small-hima-30-later-nowarm-stem", "small", "hima", 0.7, 0.7, ramp=LATER, freeze_stem=False, group="stem-b"),
    RunSpec("small-hima-50-later-nowarm-stem-seed2", "small", "hima", 0.5, 0.5, ramp=LATER, freeze_stem=False, seed=2,
            group="stem-b"),
    RunSpec("small-hf-full", "small", "full", engine=False, model="hf-gpt2", group="library"),
    RunSpec("small-hf-hima-50", "small", "hima", *HIMA_50, ramp=RAMP, model="hf-gpt2", group="library"),
]

MEDIUM = [
    RunSpec("medium-full", "medium", "full", engine=False, steps_key="medium_steps", group="medium"),
    RunSpec("medium-hima-50", "medium", "hima", *HIMA_50, ramp=RAMP, steps_key="medium_steps", group="medium"),
    RunSpec("medium-hima-50-late-nowarm", "medium", "hima", 0.5, 0.5, ramp=LATE, steps_key="medium_steps", group="medium"),
    RunSpec("medium-hima-50-later-nowarm-stem", "medium", "hima", 0.5, 0.5, ramp=LATER, freeze_stem=False,
            steps_key="medium_steps", group="medium"),
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
    RunSpec("small-full-eager", "small", "full", engine=False, compile="none"),
    RunSpec("small-hima-50-events", "small", "hima", *HIMA_50, ramp=RAMP, events=True),  # events at a real tier mix
    RunSpec("small-hima-50-eager", "small", "hima", *HIMA_50, ramp=RAMP, compile="none"),
    RunSpec("small-full-whole", "small", "full", engine=False, compile="whole"),
    RunSpec("medium-full-whole", "medium", "full", engine=False, compile="whole", steps_key="medium_steps"),
    RunSpec("medium-full-eager", "medium", "full", engine=False, compile="none", steps_key="medium_steps"),
]

# What a 50% Cold prefix saves per step with the stem training (backward runs down through the Cold blocks to the
# embeddings) and with it frozen (the prefix leaves the backward pass), each against plain AdamW: Cold from the
# first step (first_retier 0), timed side by side in interleaved rounds like the overhead runs.
BACKWARD = [
    RunSpec("backward-full", "small", "full", engine=False, steps_key="overhead_steps"),
    RunSpec("backward-stem", "small", "hima", 0.5, 0.5, first_retier=0, ramp=NO_RAMP, freeze_stem=False,
            steps_key="overhead_steps"),
    RunSpec("backward-frozen", "small", "hima", 0.5, 0.5, first_retier=0, ramp=NO_RAMP, freeze_stem=True,
            steps_key="overhead_steps"),
]

PARTS: dict[str, list[RunSpec]] = {"small": SMALL, "medium": MEDIUM, "overhead": OVERHEAD, "extra": EXTRA,
                                   "backward": BACKWARD}
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
