"""HiMA inside training frameworks that call ``optimizer.step()`` themselves.

``HiMAOptimizer`` (``hima.integrations.optimizer``) gives a HiMA engine the optimizer interface, so a
framework's own step, zero_grad, LR scheduler, GradScaler and optimizer checkpointing go through HiMA.
``hima.integrations.huggingface.HiMACallback`` (``transformers.Trainer``) and
``hima.integrations.lightning.HiMACallback`` (``lightning.pytorch.Trainer``) build on it and write a live run
folder with ``hima.monitor.RunMonitor``. Each framework is imported only by its own module.
"""
from .optimizer import HiMAOptimizer

__all__ = ["HiMAOptimizer"]
