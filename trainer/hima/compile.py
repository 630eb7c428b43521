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


def compile_per_block(blocks: Iterable[nn.Module], hima=None, **compile_kwargs) -> int:
    """Compile each module of ``blocks`` in place (``block.compile(**compile_kwargs)``); return how many.

    The safe way to combine torch.compile with HiMA: pass e.g. the transformer blocks, not the whole model.
    Blocks of one class share one compiled-code cache, with one graph per ``requires_grad`` pattern of a
    block's parameters. Dynamo's default limit (8 graphs) is below what HiMA's tiers produce, and past the
    limit a block silently runs eager. Given the engine (``hima``), the limit is raised to what its tiers
    can produce (see ``HiMA.requires_grad_patterns``), so no block falls back, and Dynamo is told to
    check the ``requires_grad`` of parameters at every call (``guard_requires_grad_of_parameters``).
    """
    blocks = list(blocks)
    for block in blocks:
        if not isinstance(block, nn.Module):
            raise TypeError(f"compile_per_block expects nn.Module blocks, got {type(block).__name__}")
    if hima is not None and hima.config.method != "full":
        guard_requires_grad_of_parameters()
    if hima is not None:
        by_class: dict[type, list[nn.Module]] = {}
        for block in blocks:
            by_class.setdefault(type(block), []).append(block)
        raise_recompile_limit([hima.requires_grad_patterns(group) for group in by_class.values()])
    for block in blocks:
        block.compile(**compile_kwargs)
    return len(blocks)


def guard_requires_grad_of_parameters() -> None:
    """Make Dynamo check each parameter's guards (``requires_grad`` among them) at every call.

    By default (``skip_tensor_guards_with_matching_dict_tags``) Dynamo treats a tensor held in an unchanged
    dict, such as a module's ``_parameters``, as unchanged and skips its guards. Measured on an H100 with
    torch 2.11: a block compiled while every tensor was Hot kept that one graph after HiMA froze half of
    the tensors (1 graph in 150 steps with 5 re-tiers): it computed and threw away the frozen weights'
    gradients and kept their activations, so freezing saved neither time nor activation memory. And a
    graph traced while a tensor was frozen gives it no gradient after it thaws. Costs a few microseconds
    of guard checks per block call.
    """
    import torch._dynamo as dynamo

    if hasattr(dynamo.config, "skip_tensor_guards_with_matching_dict_tags"):
        dynamo.config.skip_tensor_guards_with_matching_dict_tags = False


def raise_recompile_limit(patterns_per_code: list[int]) -> int:
    """Raise Dynamo's per-code and total recompile limits (never lower them) so that each compiled code
    object can hold its patterns twice (training, plus evaluation under no_grad, which guards differently).
    Returns the per-code limit now in force."""
    import torch._dynamo as dynamo

    config = dynamo.config
    need = 2 * max(patterns_per_code, default=1)
    total = 2 * sum(patterns_per_code)
    # torch >= 2.7 calls them recompile_limit / accumulated_recompile_limit; older ones *cache_size_limit.
    for per_code, accumulated in (("recompile_limit", "accumulated_recompile_limit"),
                                  ("cache_size_limit", "accumulated_cache_size_limit")):
        if hasattr(config, per_code):
            setattr(config, per_code, max(getattr(config, per_code), need))
        if hasattr(config, accumulated):
            setattr(config, accumulated, max(getattr(config, accumulated), total))
    return int(getattr(config, "recompile_limit", getattr(config, "cache_size_limit", need)))


def uncompiled():
    """Context manager: compiled modules run eagerly inside (evaluation). An evaluation under no_grad would
    otherwise compile one more graph per requires_grad pattern; its speed does not matter, its compiles do."""
    import contextlib

    import torch

    set_stance = getattr(torch.compiler, "set_stance", None)  # torch >= 2.6
    return set_stance("force_eager") if set_stance is not None else contextlib.nullcontext()
