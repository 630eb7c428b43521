"""LoRA through Hugging Face ``peft``: what a practitioner would pick instead of HiMA for cheap fine-tuning.

Adapters of rank r on every linear layer of the blocks (attention qkv and output, MLP in and out), alpha = 2r,
no dropout; the base weights are frozen, AdamW (same betas, no weight decay on the adapters) trains the
adapters alone. ``peft.inject_adapter_in_model`` works on any ``nn.Module``, so the model is the bench's own
GPT with the same base weights as every other method of the fine-tuning suite.
"""
from __future__ import annotations

import torch
from torch import nn

TARGETS = ["c_attn", "c_proj", "c_fc"]  # hima.app.model: attention qkv + output, MLP in + out (in every block)


def add_lora(model: nn.Module, rank: int, cfg, device: str) -> torch.optim.Optimizer:
    """Inject LoRA adapters into ``model`` in place, freeze everything else; return AdamW over the adapters."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=TARGETS, bias="none")
    inject_adapter_in_model(config, model)
    model.to(device)
    trainable = []
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
        if p.requires_grad:
            trainable.append(p)
    if not trainable:
        raise ValueError(f"LoRA found none of {TARGETS} in the model")
    extra = {"fused": True} if device.startswith("cuda") else {}
    return torch.optim.AdamW(trainable, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8, weight_decay=0.0, **extra)
