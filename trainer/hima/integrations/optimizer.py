"""HiMAOptimizer: a HiMA engine behind the ``torch.optim.Optimizer`` interface, for code that steps an optimizer.

Frameworks (Hugging Face ``Trainer``, Lightning) hold one optimizer object and call its ``step()`` and
``zero_grad()``; LR schedulers write ``param_groups[i]["lr"]``; ``GradScaler`` unscales ``param_groups`` and
calls ``step()`` unless a gradient is inf/nan; checkpoints go through ``state_dict()``. This wrapper routes
each of those to the engine: ``step()`` is ``hima.step()`` (Hot tensors, Warm ones on their k-th step, then
re-tiering), ``zero_grad()`` is ``hima.zero_grad()``, ``param_groups``, ``state`` and ``defaults`` are the
wrapped optimizer's own objects (read through, so a scheduler's lr reaches it), and ``state_dict()`` is the
engine's (tiers, scores and the optimizer state by parameter name, offloaded Cold state included).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from ..engine import HiMA


class HiMAOptimizer(torch.optim.Optimizer):
    """The optimizer interface of ``hima`` (see the module docstring). Optimizer step hooks are not run:
    register them on ``hima.optimizer``, which HiMA steps."""

    def __init__(self, hima: HiMA) -> None:  # noqa: super().__init__ would copy the groups; these are shared
        self.hima = hima
        # What torch.optim.Optimizer.__init__ would set and its methods read (hooks, profiling name).
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._zero_grad_profile_name = "Optimizer.zero_grad#HiMAOptimizer.zero_grad"

    @property
    def param_groups(self) -> list[dict]:  # type: ignore[override]
        return self.hima.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, groups: list[dict]) -> None:
        self.hima.optimizer.param_groups = groups

    @property
    def state(self) -> Any:  # type: ignore[override]
        return self.hima.optimizer.state

    @state.setter
    def state(self, state: Any) -> None:
        self.hima.optimizer.state = state

    @property
    def defaults(self) -> dict:  # type: ignore[override]
        return self.hima.optimizer.defaults

    @defaults.setter
    def defaults(self, defaults: dict) -> None:
        self.hima.optimizer.defaults = defaults

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run ``closure`` (forward and backward) if given, then ``hima.step()``; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.hima.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.hima.zero_grad(set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        raise ValueError("HiMA registers the optimizer's parameters once: add parameter groups before wrapping it")

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The engine's state (``HiMA.state_dict``): it holds the optimizer state by parameter name."""
        return self.hima.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        self.hima.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"HiMAOptimizer({self.hima.config.method}, {type(self.hima.optimizer).__name__})"
