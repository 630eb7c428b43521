"""The run configuration: one dataclass, resolved as preset defaults < config file < command-line flags.

Keys of a config file are exactly the field names below; an unknown key is an error (a typo must not be
silently ignored). HiMA settings left at None use the engine's own defaults.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields

from ..engine_config import LAYOUTS, METHODS
from .model import MODEL_PRESETS
from ..protocol import RUN_ID_PATTERN, is_run_id
from ..protocol_generated import DEFAULT_CUTOFFS, STRATEGIES
from ..tiering import validate_cutoffs

DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
DTYPES = ("auto", "float32", "bfloat16")
GRAD_SYNCS = ("overlap", "after-backward", "ddp")  # how a torchrun run averages gradients (hima.app.distributed)

# Upper bounds. A value past these cannot work (it overflows a seed, exhausts memory building batches, or
# updates weights by more than their scale) and used to fail only once training had begun (exit 1 after
# `hello`); here it is a config error: exit 2, before the run folder exists. Integers also stay exact in
# JavaScript (the extension reads the config back from the events): below 2**53.
MAX_INT = 2**53 - 1
LIMITS = {"batch_size": 65536, "block_size": 65536, "eval_batches": 10000, "threads": 1024, "keep_checkpoints": 1000}
MAX_LR = 10.0  # AdamW moves a weight by about lr per step; past 10 every run diverges at once


class ConfigError(ValueError):
    """A bad configuration value or file; the CLI turns it into exit code 2."""


@dataclass
class TrainConfig:
    preset: str = "tiny"
    data: str | None = None
    out: str | None = None
    run_id: str | None = None  # default: the name of the out directory
    max_steps: int = 300  # tiny on 2 CPU cores: ~70-90 ms/step, so well under 2 minutes
    batch_size: int = 8
    block_size: int | None = None  # default: the preset's context length
    data_order: str = "random"  # "random" | "sequential" (see data.py)
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_steps: int = 20
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # 0 disables clipping
    eval_every: int = 50  # 0: only at the end
    eval_batches: int = 4
    checkpoint_every: int = 0  # 0: only on stop / at the end
    keep_checkpoints: int = 3
    log_every: int = 1  # a step event every N steps (timing is averaged over the interval)
    memory_every: int = 10  # a memory event every N steps (and after every re-tier)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch CPU threads (None: torch's default, one per core). 1 holds up
    # far better on a busy machine: measured 150-260 ms/step (1) vs 215-1790 ms/step (2) for tiny on 2 busy cores.
    dtype: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    compile: bool = False  # per-block torch.compile (compile_per_block), never whole-model
    # Several processes (torchrun) only: "overlap" all-reduces gradient buckets during backward, "after-backward"
    # once it finished, "ddp" wraps the model in DistributedDataParallel (method full only). See hima.app.distributed.
    grad_sync: str = "overlap"
    # "replicated": every rank holds the whole model (grad_sync above); "fsdp2": parameters, gradients and
    # optimizer state sharded over the ranks with fully_shard (hima.app.fsdp), checkpoints through
    # torch.distributed.checkpoint (hima.app.sharded_checkpoint).
    strategy: str = "replicated"
    # Cap this process's CUDA allocations at this many GiB (torch.cuda.set_per_process_memory_fraction): the
    # memory-budget search of bench/scale_suite.py. None: no cap. Ignored on CPU.
    memory_budget_gib: float | None = None
    method: str = "hima"
    # HiMA engine settings (None: the engine's default)
    hot: float = DEFAULT_CUTOFFS["hot"]
    warm: float = DEFAULT_CUTOFFS["warm"]
    retier_every: int | None = 25
    first_retier: int | None = 25
    warm_every: int | None = 4
    warm_lr_scale: float | None = None
    score_beta: float | None = None
    probe_every: int | None = None
    probe_fraction: float | None = None  # share of all parameter elements probed per probe step
    hysteresis: float | None = None
    random_cold_fraction: float | None = None
    pin_embeddings: str | None = None
    pin_norms: str | None = None
    pin_biases: str | None = None
    cold_state: str | None = None
    warm_skip_backward: bool | None = None
    layout: str | None = None  # "depth" | "tensor" (None: the engine's default)
    warm_placement: str | None = None  # "score" | "depth" (None: the engine's default)
    freeze_stem: bool | None = None  # depth layout: may the stem (embeddings) be Cold? (None: the engine's, False)
    # The Warm and Cold shares ramp in linearly between these fractions of max_steps (None: the engine's
    # default, no ramp). See HiMAConfig.ramp_start.
    ramp_start: float | None = None
    ramp_end: float | None = None
    lisa_layers: int | None = None  # method "lisa" only: blocks trained at a time (HiMAConfig.lisa_layers)
    lisa_interval: int | None = None  # method "lisa" only: steps between samples
    # Start from these weights (a HiMA checkpoint, a run folder, or a file holding a state dict saved with
    # torch.save), with a fresh optimizer, schedule and tiers: fine-tuning / continued pre-training.
    init_from: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


# The HiMA recipe of the GPU presets, the best measured at 50% Cold when pre-training from scratch (docs/results,
# H200, GPT-2 Small 3000 steps / Medium 1000, run `small-hima-50-later-nowarm-stem`: these settings with the
# engine's depth layout and the stem training): no Warm tier (Warm measured worse than both Hot and Cold at
# equal Cold share) and the Cold share ramped in over 50-95% of the budget (an earlier ramp saves more and costs
# more: 10-50% +0.96, 30-90% +0.32). Val loss against full AdamW: Small +0.09 (seed 2 +0.06, a same-call
# re-run +0.08), Medium +0.04; whole run 1.05-1.07x (Medium 1.09-1.10x). The tiny CPU preset keeps the
# dataclass defaults (three tiers from the first re-tier), so the demo shows every tier within its 300 steps.
GPU_RECIPE = {"hot": 0.5, "warm": 0.5, "ramp_start": 0.5, "ramp_end": 0.95}
_GPU_PRESET = {  # what the GPU presets share; each adds its learning rate
    "max_steps": 5000, "batch_size": 16, "warmup_steps": 200,
    "eval_every": 250, "eval_batches": 20, "checkpoint_every": 1000, "log_every": 10,
    "memory_every": 50, "retier_every": 100, "first_retier": 100, "data_order": "sequential", **GPU_RECIPE,
}
PRESET_MEDIUM = {**_GPU_PRESET, "lr": 3e-4, "min_lr": 3e-5}

# Training defaults per preset (the model architecture itself lives in model.MODEL_PRESETS).
PRESET_DEFAULTS: dict[str, dict] = {
    "tiny": {},  # the dataclass defaults are the CPU demo's
    "small": {**_GPU_PRESET, "lr": 6e-4, "min_lr": 6e-5},
    "medium": PRESET_MEDIUM,
    # The larger shapes (bench/scale_suite.py): medium's schedule at a lower learning rate.
    **{name: {**PRESET_MEDIUM, "batch_size": 8, "lr": 2e-4, "min_lr": 2e-5} for name in ("large", "xl", "2b7", "6b7")},
}

_FIELDS = {f.name: f for f in fields(TrainConfig)}
_OPTIONAL = {name for name, f in _FIELDS.items() if "None" in str(f.type)}
_ENGINE_KEYS = (
    "retier_every", "first_retier", "warm_every", "warm_lr_scale", "score_beta", "probe_every", "probe_fraction",
    "hysteresis", "random_cold_fraction", "pin_embeddings", "pin_norms", "pin_biases", "cold_state",
    "warm_skip_backward", "layout", "warm_placement", "freeze_stem", "lisa_layers", "lisa_interval",
)


def _type_of(name: str) -> type:
    text = str(_FIELDS[name].type)
    for t in (bool, int, float, str):  # bool before int: bool is an int subclass
        if text.startswith(t.__name__):
            return t
    raise AssertionError(f"unhandled config type {text}")


def _coerce(name: str, value, source: str):
    """Check one value's type; ints are accepted for float fields."""
    if value is None:
        if name in _OPTIONAL:
            return None
        raise ConfigError(f"{source}: '{name}' must not be null")
    want = _type_of(name)
    if want is bool:
        ok = isinstance(value, bool)
    elif want is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif want is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
            ok = math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{source}: '{name}' must be {want.__name__}, got {value!r}")
    return value


def load_config_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a JSON object")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    return {k: _coerce(k, v, f"config file {path}") for k, v in raw.items()}


def resolve_config(file_values: dict, flag_values: dict) -> TrainConfig:
    """Preset defaults < config file < flags (flags only contain what the user actually passed)."""
    preset = flag_values.get("preset") or file_values.get("preset") or TrainConfig.preset
    if preset not in MODEL_PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(MODEL_PRESETS)}")
    merged = {**PRESET_DEFAULTS[preset], **file_values, **flag_values, "preset": preset}
    unknown = sorted(set(merged) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
    cfg = TrainConfig(**{k: _coerce(k, v, "setting") for k, v in merged.items()})
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    def need(cond: bool, message: str) -> None:
        if not cond:
            raise ConfigError(message)

    need(cfg.data is not None, "no data directory given (--data <dir with train.bin, val.bin, meta.json>)")
    need(cfg.out is not None, "no output directory given (--out <run dir>)")
    need(cfg.method in METHODS, f"method must be one of {', '.join(METHODS)}, got {cfg.method!r}")
    need(bool(DEVICE.match(cfg.device)), f"device must be auto, cpu, cuda, cuda:N or mps, got {cfg.device!r}")
    need(cfg.dtype in DTYPES, f"dtype must be one of {', '.join(DTYPES)}, got {cfg.dtype!r}")
    need(cfg.grad_sync in GRAD_SYNCS, f"grad_sync must be one of {', '.join(GRAD_SYNCS)}, got {cfg.grad_sync!r}")
    need(cfg.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}, got {cfg.strategy!r}")
    need(cfg.memory_budget_gib is None or cfg.memory_budget_gib > 0, f"memory_budget_gib must be > 0, got {cfg.memory_budget_gib}")
    if cfg.strategy == "fsdp2":
        need(cfg.grad_sync != "ddp", "grad_sync 'ddp' is a replicated reduction; strategy 'fsdp2' shards the gradients itself (leave grad_sync unset)")
        need(not cfg.compile, "compile is not supported with strategy 'fsdp2' yet (per-block torch.compile and fully_shard "
             "were not tested together here); leave compile off")
        need(not cfg.device.startswith("mps"), "strategy 'fsdp2' runs on cpu (gloo) or cuda (nccl), not mps")
    need(
        cfg.grad_sync != "ddp" or cfg.method == "full",
        f"grad_sync 'ddp' (DistributedDataParallel) needs method 'full', not {cfg.method!r}: DDP expects the same "
        "parameters to get gradients every step, and HiMA changes requires_grad as tensors change tiers. "
        "Use grad_sync 'overlap' (the default) or 'after-backward'.",
    )
    need(cfg.data_order in ("random", "sequential"), f"data_order must be random or sequential, got {cfg.data_order!r}")
    need(cfg.run_id is None or is_run_id(cfg.run_id), f"run id {cfg.run_id!r} must match {RUN_ID_PATTERN}")
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        if isinstance(value, int) and not isinstance(value, bool):
            need(abs(value) <= MAX_INT, f"{f.name} must be at most {MAX_INT} (2**53 - 1), got {value}")
    for name, limit in LIMITS.items():
        value = getattr(cfg, name)
        need(value is None or value <= limit, f"{name} must be at most {limit}, got {value}")
    need(cfg.seed >= 0, f"seed must be >= 0, got {cfg.seed}")
    need(cfg.lr <= MAX_LR, f"lr must be at most {MAX_LR}, got {cfg.lr}")
    need(cfg.max_steps >= 0, "max_steps must be >= 0")
    need(cfg.batch_size >= 1, "batch_size must be >= 1")
    need(cfg.threads is None or cfg.threads >= 1, "threads must be >= 1")
    need(cfg.block_size is None or cfg.block_size >= 1, "block_size must be >= 1")
    need(cfg.lr > 0 and 0 <= cfg.min_lr <= cfg.lr, "need lr > 0 and 0 <= min_lr <= lr")
    need(cfg.warmup_steps >= 0 and cfg.weight_decay >= 0 and cfg.grad_clip >= 0, "warmup_steps, weight_decay, grad_clip must be >= 0")
    need(0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1, "beta1 and beta2 must be in [0, 1)")
    need(cfg.eval_every >= 0 and cfg.eval_batches >= 1, "eval_every must be >= 0 and eval_batches >= 1")
    need(cfg.checkpoint_every >= 0 and cfg.keep_checkpoints >= 1, "checkpoint_every must be >= 0 and keep_checkpoints >= 1")
    need(cfg.log_every >= 1 and cfg.memory_every >= 1, "log_every and memory_every must be >= 1")
    try:
        validate_cutoffs(cfg.hot, cfg.warm)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    need(cfg.layout is None or cfg.layout in LAYOUTS, f"layout must be one of {', '.join(LAYOUTS)}, got {cfg.layout!r}")
    start, end = _ramp_fractions(cfg)
    need(0 <= start <= end <= 1, f"ramp needs 0 <= ramp_start <= ramp_end <= 1 (fractions of max_steps), got {start}, {end}")


def _ramp_fractions(cfg: TrainConfig) -> tuple[float, float]:
    """(start, end) of the Warm/Cold ramp as fractions of max_steps; an unset end is the start (a switch)."""
    start = 0.0 if cfg.ramp_start is None else cfg.ramp_start
    return start, start if cfg.ramp_end is None else cfg.ramp_end


def engine_settings(cfg: TrainConfig) -> dict:
    """Keyword arguments for HiMAConfig: the method, cutoffs, seed and every HiMA setting that is set."""
    kw = {"method": cfg.method, "hot": cfg.hot, "warm": cfg.warm, "seed": cfg.seed}
    kw.update({k: getattr(cfg, k) for k in _ENGINE_KEYS if getattr(cfg, k) is not None})
    if cfg.ramp_start is not None or cfg.ramp_end is not None:
        start, end = _ramp_fractions(cfg)
        kw["ramp_start"], kw["ramp_end"] = round(start * cfg.max_steps), round(end * cfg.max_steps)
    return kw
