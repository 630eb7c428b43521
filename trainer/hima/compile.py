"""torch.compile and HiMA: refuse the unsafe combination, offer the safe one.

HiMA freezes and thaws tensors with ``requires_grad_()`` while training runs. A graph compiled for the whole
model can be reused after such a change: measured on an H100 with torch 2.11, gradient presence was wrong in
100 of 480 checks (frozen tensors got gradients, trainable ones got none), silently. Compiling each block
separately gave correct gradients in every check. (On CPU with torch 2.13 and the aot_eager backend,
dynamo's guards did catch the change and recompiled, but that is not something to rely on across versions
and backends, and it stops recompiling after ``recompile_limit`` patterns anyway.)
"""
from __future__ import annotations

from typing import Iterable

from torch import nn


class HiMACompileError(RuntimeError):
    """The model was compiled in a way HiMA cannot train correctly."""


def is_whole_model_compiled(model: nn.Module) -> bool:
    """True for ``torch.compile(model)`` (an OptimizedModule) and after ``model.compile()``."""
    try:
        from torch._dynamo.eval_frame import OptimizedModule
    except ImportError:  # very old torch without dynamo: nothing can be compiled
        return False
    if isinstance(model, OptimizedModule):
        return True
    return getattr(model, "_compiled_call_impl", None) is not None


def refuse_whole_model_compile(model: nn.Module, method: str) -> None:
    if is_whole_model_compiled(model):
        raise HiMACompileError(
            f"HiMA method {method!r} changes requires_grad of parameters during training, but this model was "
            "compiled as a whole (torch.compile(model) or model.compile()). A whole-model graph can be reused "
            "after requires_grad changes and then computes silently wrong gradients. Pass the uncompiled model "
            "and compile each block instead: hima.compile_per_block(model.blocks) (or block.compile() on each "
            "block); or use method='full', which never changes requires_grad."
        )


def compile_per_block(blocks: Iterable[nn.Module], **compile_kwargs) -> int:
    """Compile each module of ``blocks`` in place (``block.compile(**compile_kwargs)``); return how many.

    The safe way to combine torch.compile with HiMA: pass e.g. the transformer blocks, not the whole model.
    """
    count = 0
    for block in blocks:
        if not isinstance(block, nn.Module):
            raise TypeError(f"compile_per_block expects nn.Module blocks, got {type(block).__name__}")
        block.compile(**compile_kwargs)
        count += 1
    return count
