"""Cooling: a tensor that a re-tier sends to Cold is annealed for a while before it freezes.

Why: freezing a tensor in the middle of the learning-rate schedule keeps it where a high learning rate
left it, with the noise that the schedule's decay would otherwise have averaged out. Progressive freezing
methods (FreezeOut, Brock et al. 2017) anneal a layer's learning rate to zero before they freeze it. Here a
tensor chosen Cold keeps its tier (and its optimizer state) for ``steps`` more steps while its optimizer
update is scaled by a half-cosine that falls from 1 to 0; then it freezes as before. The scale multiplies
the update the optimizer computed (``p <- p_before + f * (p_after - p_before)``), which for Adam/AdamW and
SGD (updates linear in the learning rate, decoupled weight decay included) is the learning rate times
``f`` for that tensor alone, with no parameter group rebuilt. Moments keep seeing the true gradients.

The Cold prefix of the depth layout stays a prefix: units start cooling in the order the ramp adds them
and all cool for the same number of steps. A tensor that a later re-tier keeps out of Cold stops cooling
(its scale is 1 again). A user's pin to Cold freezes at once: the pin says "now".
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch

from .tiering import Tier


class Cooling:
    """Which tensors are cooling (index -> the step their cooling began) and their update scales."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.started: dict[int, int] = {}

    def factor(self, index: int, step: int) -> float:
        """The update scale of tensor ``index`` at ``step``: a half-cosine from 1 toward 0, the k-th cooling
        step (k = 1..steps) scaled by ``(1 + cos(pi k / (steps + 1))) / 2``; the tensor freezes after the last."""
        k = min(step - self.started[index] + 1, self.steps)
        return 0.5 * (1.0 + math.cos(math.pi * k / (self.steps + 1)))

    def hold(self, current: Sequence[Tier], chosen: Sequence[Tier], step: int, at_once: set[int]) -> list[Tier]:
        """The tiers to apply now for a re-tier that ``chose``: a tensor newly chosen Cold keeps its
        current tier and starts (or goes on) cooling, unless it is in ``at_once``; one chosen anything but
        Cold stops cooling."""
        if self.steps <= 0:
            return list(chosen)
        out = list(chosen)
        for i, (old, new) in enumerate(zip(current, chosen)):
            if new != "cold":
                self.started.pop(i, None)
            elif old != "cold" and i not in at_once:
                self.started.setdefault(i, step)
                out[i] = old
            else:
                self.started.pop(i, None)
        return out

    def finished(self, step: int) -> list[int]:
        """Tensors whose cooling is over before ``step`` runs (they freeze now); forgotten here."""
        done = [i for i, begun in self.started.items() if step - begun >= self.steps]
        for i in done:
            del self.started[i]
        return done

    @contextmanager
    def scaled_updates(self, params: Sequence[torch.nn.Parameter], step: int) -> Iterator[None]:
        """Around ``optimizer.step()``: the update of each cooling tensor that has a gradient is scaled by
        its factor at ``step``. Tensors with the same factor (one depth unit) are scaled in one foreach call."""
        by_factor: dict[float, list[int]] = {}
        for i in self.started:
            if params[i].grad is not None:
                by_factor.setdefault(self.factor(i, step), []).append(i)
        with torch.no_grad():
            before = {f: [params[i].detach().clone() for i in idx] for f, idx in by_factor.items() if f != 1.0}
        yield
        with torch.no_grad():
            for f, copies in before.items():
                # lerp(after, before, 1 - f) = before + f * (after - before)
                torch._foreach_lerp_([params[i].data for i in by_factor[f]], copies, 1.0 - f)

    def to_dict(self, names: Sequence[str]) -> dict[str, int]:
        return {names[i]: begun for i, begun in self.started.items()}

    def load(self, saved: dict[str, int], index: dict[str, int]) -> None:
        self.started = {index[name]: int(begun) for name, begun in saved.items()}
