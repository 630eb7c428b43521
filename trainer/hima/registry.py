"""Which tensors a HiMA engine tracks and which of them its policy pins.

Registration: every parameter the optimizer holds, by its name in the model. Policy pins: embeddings,
norm layers and biases each get a fixed tier from ``HiMAConfig`` (see its docstring for why), and what
those pins leave free bounds the ``requires_grad`` patterns a compiled block can see.
"""
from __future__ import annotations

import torch
from torch import nn

from .engine_config import HiMAConfig
from .tiering import Tier


def register_parameters(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[list[str], list[nn.Parameter]]:
    """Names and tensors of the optimizer's parameters, in ``model.named_parameters()`` order."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    named = [(name, p) for name, p in model.named_parameters() if id(p) in held]
    if len(named) != len(held):
        raise ValueError(
            f"the optimizer holds {len(held) - len(named)} tensor(s) that are not parameters of the model; "
            "build the optimizer from model.parameters() (HiMA tracks tensors by their name in the model)"
        )
    if not named:
        raise ValueError("the optimizer holds no parameters of the model: nothing to train")
    return [n for n, _ in named], [p for _, p in named]


def policy_pins(model: nn.Module, name_of: dict[int, str], config: HiMAConfig) -> dict[str, Tier]:
    """Registered name -> tier for embeddings, norm-layer parameters and biases whose pin is set."""
    pins: dict[str, Tier] = {}
    for module in model.modules():
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
            tier, params = config.pin_embeddings, list(module.parameters(recurse=False))
        elif "Norm" in type(module).__name__:
            tier, params = config.pin_norms, list(module.parameters(recurse=False))
        else:
            bias = getattr(module, "bias", None)
            tier, params = config.pin_biases, [bias] if isinstance(bias, nn.Parameter) and bias.dim() == 1 else []
        if tier is None:
            continue
        for p in params:
            if id(p) in name_of:
                pins[name_of[id(p)]] = tier
    return pins


def requires_grad_patterns(method: str, modules: list[nn.Module], name_of: dict[int, str], pinned) -> int:
    """Upper bound on the distinct ``requires_grad`` patterns the parameters of ``modules`` can get (see
    ``HiMA.requires_grad_patterns``). ``pinned``: the names whose tier is fixed."""
    if method == "full":
        return 1
    if method == "random-static":
        return len(modules)
    free = [sum(1 for p in m.parameters() if name_of.get(id(p)) not in (None, *pinned)) for m in modules]
    return 2 ** max(free, default=0)
