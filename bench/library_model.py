"""A model this project did not write, trained through the public ``hima`` API: Hugging Face transformers'
GPT2LMHeadModel (biases everywhere, Conv1D layers, its own attention and block classes).

What a user would write: build the model, an AdamW over ``model.parameters()``, ``HiMA(model, optimizer,
config)`` (the depth layout finds ``transformer.h`` itself), compile each block, and call ``hima.step()``
after ``loss.backward()``. The plain baseline is the same model and loop without HiMA.
"""
from __future__ import annotations

import torch
from torch import nn

from hima import HiMA, HiMAConfig
from hima.app.config import engine_settings
from hima.app.data import TokenBatches
from hima.app.model import MODEL_PRESETS, padded_vocab
from hima.app.train import make_optimizer


class CausalLM(nn.Module):
    """(idx, targets) -> (None, loss), the call the bench makes of every model; the wrapped Hugging Face model
    is ``self.lm`` (HiMA sees its parameters as ``lm.transformer.h.0.attn.c_attn.weight``, ...)."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        out = self.lm(input_ids=idx, use_cache=False)
        logits = out.logits
        if targets is None:
            return logits, None
        loss = nn.functional.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1))
        return None, loss


def hf_gpt2(preset: str, vocab_size: int, block_size: int) -> CausalLM:
    from transformers import GPT2Config, GPT2LMHeadModel

    arch = MODEL_PRESETS[preset]
    config = GPT2Config(
        vocab_size=padded_vocab(vocab_size), n_positions=block_size, n_embd=arch["n_embd"], n_layer=arch["n_layer"],
        n_head=arch["n_head"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
        use_cache=False,
    )
    config._attn_implementation = "sdpa"
    return CausalLM(GPT2LMHeadModel(config))


def build_library_run(spec, cfg, device: str):
    """(model, optimizer, batches, hima or None, autocast, train_step, blocks) for ``spec.model``."""
    if spec.model != "hf-gpt2":
        raise ValueError(f"unknown library model {spec.model!r} (known: hf-gpt2)")
    torch.manual_seed(cfg.seed)
    batches = TokenBatches(cfg.data, cfg.batch_size, cfg.block_size, cfg.seed, cfg.data_order)
    model = hf_gpt2(cfg.preset, batches.meta.vocab_size, batches.block_size).to(device)
    model.train()
    optimizer = make_optimizer(model, cfg, device)
    hima = HiMA(model, optimizer, HiMAConfig(**engine_settings(cfg))) if spec.engine else None
    autocast = torch.autocast(device, dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)

    from .measure import user_step  # what a user writes around HiMA (or, without the engine, around AdamW)

    train_step = user_step(model, optimizer, autocast, cfg.grad_clip, device, hima=hima)
    return model, optimizer, batches, hima, autocast, train_step, list(model.lm.transformer.h)
