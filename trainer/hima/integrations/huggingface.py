"""HiMA in a Hugging Face ``transformers.Trainer``: tiered training and a live run folder from one callback.

    from hima import HiMAConfig
    from hima.integrations.huggingface import HiMACallback

    hima = HiMACallback(".hima/runs/my-finetune", HiMAConfig(hot=0.3, warm=0.6))
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[hima],
                      optimizer_cls_and_kwargs=hima.optimizer_cls_and_kwargs(model, args))
    trainer.train()

Why ``optimizer_cls_and_kwargs`` and not the callback alone: the Trainer creates its optimizer inside
``train()`` and gives callbacks no reference to it (their ``optimizer`` argument is the one passed to the
Trainer's constructor, None by default), so a callback cannot put HiMA around it. ``optimizer_cls_and_kwargs``
is the Trainer's own hook for the optimizer class: the Trainer still builds the parameter groups (weight decay
on the parameters it chooses), the optimizer its ``args`` ask for (``Trainer.get_optimizer_cls_and_kwargs``:
``optim``, ``learning_rate``, betas, eps), the LR schedule, the fp16 ``GradScaler`` and the optimizer checkpoint;
HiMA wraps that optimizer (``hima.integrations.HiMAOptimizer``), so every ``optimizer.step()`` the Trainer makes
is ``hima.step()``. Without it (or with ``config=None``) the callback only monitors: the run folder without tiers.

The run folder (``hima.monitor.RunMonitor``): `step` events from the Trainer's logs (every ``logging_steps``),
`eval` from its evaluations (``eval_loss``), `tiers` and `memory` from the engine; controls from the panel are
applied in ``on_step_end``, between two optimizer steps; a `stop` control ends training (``should_training_stop``),
a `checkpoint` control saves one (``should_save``). With several processes (torchrun, DDP) rank 0 writes the
folder and no control socket is served: a control reaching rank 0 alone would split the ranks' tiers.

Gradient clipping: the Trainer clips every gradient (``max_grad_norm``, default 1.0) before the step, including
the probe gradients of Cold tensors that HiMA only scores; the clip factor is the same for every tensor, so
the ranking holds. To clip only the gradients applied (as ``hima.clip_grad_norm_`` does), set
``max_grad_norm=0`` in the arguments and ``HiMACallback(..., max_grad_norm=1.0)``.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from ..engine import HiMA
from ..engine_config import HiMAConfig
from ..monitor import RunMonitor
from .optimizer import HiMAOptimizer

__all__ = ["HiMACallback"]


class _TrainerOptimizer(HiMAOptimizer):
    """What ``Trainer.create_optimizer`` instantiates: the optimizer the Trainer's args ask for, under HiMA."""

    def __init__(self, params: Any, *, hima_callback: HiMACallback, hima_model: Any, optimizer_cls: type,
                 optimizer_kwargs: dict) -> None:
        engine = HiMA(hima_model, optimizer_cls(params, **optimizer_kwargs), hima_callback.config)
        super().__init__(engine)
        self.max_grad_norm = hima_callback.max_grad_norm
        hima_callback.hima = engine

    def step(self, closure=None):
        if self.max_grad_norm:
            self.hima.clip_grad_norm_(self.max_grad_norm)  # applied gradients only, after GradScaler's unscale_
        return super().step(closure)


class HiMACallback(TrainerCallback):
    """Trains with HiMA and writes the run folder ``out`` (see the module docstring).

    ``config``: the engine's options (None: monitor only). ``max_grad_norm``: clip the applied gradients
    through HiMA (use with ``TrainingArguments(max_grad_norm=0)``). ``run_config``: extra JSON-like settings
    for the `hello` event (the TrainingArguments' main fields are recorded anyway). ``memory_every``: steps
    between `memory` events.
    """

    def __init__(self, out: str | os.PathLike, config: HiMAConfig | None = None, *, max_grad_norm: float = 0.0,
                 run_id: str | None = None, run_config: dict | None = None, memory_every: int = 10) -> None:
        self.out, self.config, self.max_grad_norm = out, config, max_grad_norm
        self.run_id, self.run_config, self.memory_every = run_id, run_config, memory_every
        self.hima: HiMA | None = None  # set when the Trainer creates its optimizer
        self.monitor: RunMonitor | None = None
        self._save_requested = False

    def optimizer_cls_and_kwargs(self, model: Any, args: Any) -> tuple[type, dict]:
        """For ``Trainer(optimizer_cls_and_kwargs=...)``: the optimizer ``args`` select, wrapped by HiMA."""
        if self.config is None:
            raise ValueError("HiMACallback(config=None) only monitors; give it a HiMAConfig to train with HiMA")
        optimizer_cls, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
        if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
            raise ValueError(f"optim={args.optim!r} builds its optimizer from a factory; HiMA wraps a torch optimizer "
                             "class (e.g. optim='adamw_torch')")
        if any(key in optimizer_kwargs for key in ("params", "model", "optimizer_dict")):
            raise ValueError(f"optim={args.optim!r} chooses its own parameters (layer-wise or low-rank); HiMA needs "
                             "one optimizer over the model's parameters (e.g. optim='adamw_torch')")
        return _TrainerOptimizer, {"hima_callback": self, "hima_model": model, "optimizer_cls": optimizer_cls,
                                   "optimizer_kwargs": dict(optimizer_kwargs)}

    # ---- Trainer events ----

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.config is not None and self.hima is None:
            raise RuntimeError("HiMACallback has a HiMAConfig but the Trainer's optimizer is not HiMA's: pass "
                               "optimizer_cls_and_kwargs=callback.optimizer_cls_and_kwargs(model, args) to Trainer(...)")
        if not state.is_world_process_zero:
            return
        settings = {key: getattr(args, key, None) for key in (
            "learning_rate", "weight_decay", "per_device_train_batch_size", "gradient_accumulation_steps",
            "max_grad_norm", "fp16", "bf16", "optim", "lr_scheduler_type", "warmup_steps", "seed")}
        self.monitor = RunMonitor(
            self.out, model, self.hima, run_id=self.run_id, max_steps=max(0, state.max_steps),
            start_step=state.global_step, config={"trainer": "transformers.Trainer", **settings, **(self.run_config or {})},
            memory_every=self.memory_every, save=self._request_save,
            # Several processes: a control would reach rank 0 alone and split the ranks' tiers, so none are served.
            controls=args.world_size == 1,
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.monitor is None:
            return
        self.monitor.step(step=state.global_step)  # tiers, memory, controls (a pause waits here)
        if self.monitor.should_stop:
            control.should_training_stop = True
        if self._save_requested:
            self._save_requested = False
            control.should_save = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.monitor is not None and logs and "loss" in logs:
            self.monitor.log(logs["loss"], lr=logs.get("learning_rate"))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.monitor is not None and metrics and "eval_loss" in metrics:
            self.monitor.eval(metrics["eval_loss"], step=state.global_step)

    def on_save(self, args, state, control, **kwargs):
        if self.monitor is not None:
            self.monitor.checkpoint(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))

    def on_train_end(self, args, state, control, **kwargs):
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def _request_save(self) -> None:
        # A `checkpoint` control: the Trainer saves after this step (on_save then records the folder).
        self._save_requested = True
        return None
