"""HiMA in a Lightning ``Trainer``: tiered training and a live run folder from one callback.

    from hima import HiMAConfig
    from hima.integrations.lightning import HiMACallback

    trainer = lightning.pytorch.Trainer(max_steps=1000, callbacks=[HiMACallback(".hima/runs/my-run", HiMAConfig())])
    trainer.fit(module, data)

Your ``configure_optimizers`` stays as it is. At ``on_fit_start`` (after Lightning has built the optimizer,
before the first step) the callback puts HiMA around it (``hima.integrations.HiMAOptimizer``) in the trainer's
optimizer list, so Lightning's own ``optimizer.step(closure)``, ``zero_grad``, LR schedulers, precision plugin
(a ``GradScaler``'s unscale and skipped steps) and optimizer checkpoints go through the engine. One optimizer
and automatic optimization only; with ``config=None`` the callback only monitors.

The run folder (``hima.monitor.RunMonitor``): a `step` event per optimizer step with the training loss,
`eval` events from ``val_loss`` (``val_loss_key``) after each validation, `tiers` and `memory` from the engine;
controls from the panel are applied after each optimizer step; a `stop` control sets ``trainer.should_stop``
and a `checkpoint` control writes ``<out>/checkpoints/step-N.ckpt`` with ``trainer.save_checkpoint``. With
several processes rank 0 writes the folder and no control socket is served (a control reaching rank 0 alone
would split the ranks' tiers).
"""
from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl

from ..engine import HiMA
from ..engine_config import HiMAConfig
from ..monitor import RunMonitor
from .optimizer import HiMAOptimizer

__all__ = ["HiMACallback"]


class HiMACallback(pl.Callback):
    """Trains with HiMA and writes the run folder ``out`` (see the module docstring).

    ``config``: the engine's options (None: monitor only). ``val_loss_key``: the logged metric that becomes
    `eval` events. ``run_config``: extra JSON-like settings for the `hello` event. ``memory_every``: steps
    between `memory` events.
    """

    def __init__(self, out: str | os.PathLike, config: HiMAConfig | None = None, *, val_loss_key: str = "val_loss",
                 run_id: str | None = None, run_config: dict | None = None, memory_every: int = 10) -> None:
        self.out, self.config, self.val_loss_key = os.fspath(out), config, val_loss_key
        self.run_id, self.run_config, self.memory_every = run_id, run_config, memory_every
        self.hima: HiMA | None = None
        self.monitor: RunMonitor | None = None
        self._trainer: pl.Trainer | None = None
        self._last_step = -1

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._trainer = trainer
        if self.config is not None:
            optimizers = trainer.optimizers
            if len(optimizers) != 1 or not pl_module.automatic_optimization:
                raise ValueError("HiMACallback wraps one optimizer under automatic optimization; this module has "
                                 f"{len(optimizers)} optimizer(s), automatic_optimization={pl_module.automatic_optimization}")
            if isinstance(optimizers[0], HiMAOptimizer):  # a second fit() with the same callback
                self.hima = optimizers[0].hima
            else:
                self.hima = HiMA(pl_module, optimizers[0], self.config)
                trainer.optimizers = [HiMAOptimizer(self.hima)]
        if trainer.is_global_zero:
            self.monitor = RunMonitor(
                self.out, pl_module, self.hima, run_id=self.run_id, max_steps=max(0, trainer.max_steps),
                start_step=trainer.global_step, memory_every=self.memory_every, save=self._save,
                controls=trainer.world_size == 1,  # a control reaching rank 0 alone would split the ranks' tiers
                config={"trainer": "lightning.pytorch.Trainer", "precision": str(trainer.precision),
                        "accumulate_grad_batches": trainer.accumulate_grad_batches, **(self.run_config or {})},
            )
        self._last_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.monitor is None or trainer.global_step == self._last_step:
            return  # no optimizer step in this batch (gradient accumulation)
        self._last_step = trainer.global_step
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        self.monitor.step(loss, step=trainer.global_step)  # tiers, memory, controls (a pause waits here)
        if self.monitor.should_stop:
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.val_loss_key)
        if self.monitor is not None and value is not None and not trainer.sanity_checking:
            self.monitor.eval(value, step=trainer.global_step)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.monitor is not None:
            if isinstance(exception, KeyboardInterrupt):
                self.monitor.close("stopped")
            else:
                self.monitor.events.try_emit("error", message=f"{type(exception).__name__}: {exception}", fatal=True, rank=None)
                self.monitor.close("error")
            self.monitor = None

    def _save(self) -> str:
        path = os.path.join(self.out, "checkpoints", f"step-{self._trainer.global_step}.ckpt")
        self._trainer.save_checkpoint(path)
        return path
