"""The stem bypass: the embeddings keep training under a Cold prefix of blocks without a backward through it.

Why: with the depth layout, a Cold prefix of blocks shortens the backward pass only if nothing below it
trains. But freezing the stem (position embeddings, the tied embedding's input side) with the prefix costs
quality (measured: 10% Cold cost +0.08 in val loss with the stem frozen, +0.03 with it training), and
keeping it training makes backward run through every Cold block to reach it (50% Cold: 1.05-1.07x whole
run instead of 1.15x).

A residual stack computes ``x_k = x_0 + sum_{i<k} f_i(x_i)``, so ``dL/dx_0 = dL/dx_k (I + sum_i J_i ...)``:
its identity term is the gradient at the top of the prefix itself. The bypass keeps exactly that term: the
prefix runs on a detached copy of its input (no graph, no saved activations, no input gradients there), and
the input of the lowest trainable block gets ``x_k + (x_0 - x_0.detach())``, which is ``x_k`` in the forward
pass (the added term is exactly zero) and hands ``dL/dx_k`` straight to the embeddings in the backward pass.
The stem's gradient is an approximation (the Cold blocks' Jacobians are left out); everything above the prefix
is exact. Only for stacks whose blocks map the residual stream to itself (same shape in and out).

The hooks run outside torch.compile (``torch.compiler.disable``): they hold a tensor between two block calls.
"""
from __future__ import annotations

import torch
from torch import nn


class StemBypass:
    """Forward pre-hooks on ``blocks``: while ``top`` (the index of the lowest trainable block) is set and
    above 0, block 0 runs on a detached input and block ``top`` gets the straight-through term."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        self._blocks = blocks
        self._x0: torch.Tensor | None = None
        self._handles: list = []
        self.top: int | None = None

    def set_top(self, top: int | None) -> None:
        """Bypass the blocks below ``top`` (None or 0: no bypass). Hooks exist only while it is on, so a
        model without a bypass runs exactly as before."""
        top = top if top else None
        if top == self.top:
            return
        self.remove()
        self.top = top
        if top is not None and top < len(self._blocks):
            self._handles = [self._blocks[0].register_forward_pre_hook(self._detach_input),
                             self._blocks[top].register_forward_pre_hook(self._straight_through)]

    @torch.compiler.disable
    def _detach_input(self, module: nn.Module, args: tuple) -> tuple:
        x0 = args[0]
        self._x0 = x0 if x0.requires_grad else None
        return (x0.detach(), *args[1:])

    @torch.compiler.disable
    def _straight_through(self, module: nn.Module, args: tuple) -> tuple:
        x0, self._x0 = self._x0, None
        if x0 is None:  # no gradient wanted (evaluation under no_grad, or the stem is frozen)
            return args
        if x0.shape != args[0].shape:
            raise RuntimeError(f"HiMA's stem bypass needs blocks that keep the residual stream's shape: the blocks' "
                               f"input is {tuple(x0.shape)}, block {self.top}'s is {tuple(args[0].shape)}")
        return (args[0] + (x0 - x0.detach()), *args[1:])

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._x0 = None
        self.top = None
