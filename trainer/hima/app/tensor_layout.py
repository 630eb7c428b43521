"""Where each parameter tensor sits on the tier map: (layer, group = row, kind = column).

GPT-2 names get the labels the panel knows ("block 3" / "attn.qkv"); any other model falls back to
its module path and the last name component, so HiMA's tier map works on user models too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch.nn as nn

# torch.compile wrappers insert this into names; the layout is about the model, not the wrapper.
_COMPILE_PREFIX = "_orig_mod."

_GPT_BLOCK = re.compile(r"^transformer\.h\.(\d+)\.(.+)\.(weight|bias)$")
_GPT_BLOCK_KINDS = {
    "ln_1": "ln_1",
    "attn.c_attn": "attn.qkv",
    "attn.c_proj": "attn.proj",
    "ln_2": "ln_2",
    "mlp.c_fc": "mlp.in",
    "mlp.c_proj": "mlp.out",
}
_GPT_OUTSIDE = {
    "transformer.wte": ("embeddings", "wte"),
    "transformer.wpe": ("embeddings", "wpe"),
    "transformer.ln_f": ("final norm", "ln_f"),
    "lm_head": ("embeddings", "lm_head"),  # only seen when the head is untied
}


@dataclass(frozen=True)
class TensorPlace:
    layer: int | None
    group: str
    kind: str


def _with_bias(kind: str, leaf: str) -> str:
    return kind + ".bias" if leaf == "bias" else kind


def place_of(name: str) -> TensorPlace:
    """The tier-map position of one parameter name."""
    name = name.replace(_COMPILE_PREFIX, "")
    m = _GPT_BLOCK.match(name)
    if m and m.group(2) in _GPT_BLOCK_KINDS:
        layer = int(m.group(1))
        return TensorPlace(layer, f"block {layer}", _with_bias(_GPT_BLOCK_KINDS[m.group(2)], m.group(3)))
    module, _, leaf = name.rpartition(".")
    if module in _GPT_OUTSIDE and leaf in ("weight", "bias"):
        group, kind = _GPT_OUTSIDE[module]
        return TensorPlace(None, group, _with_bias(kind, leaf))
    # Any other model: row = module path ("" for a parameter on the root module), column = leaf name.
    return TensorPlace(None, module or "(root)", leaf)


def tensor_infos(model: nn.Module) -> list[dict]:
    """TensorInfo objects (protocol) for every registered parameter, in registration order."""
    infos = []
    for name, p in model.named_parameters():
        place = place_of(name)
        infos.append(
            {
                "name": name,
                "layer": place.layer,
                "group": place.group,
                "kind": place.kind,
                "shape": list(p.shape),
                "numel": p.numel(),
            }
        )
    return infos
