"""GPT-2 family model in the nanoGPT style: one file, read top to bottom.

Tied embeddings (``lm_head.weight`` IS ``transformer.wte.weight``: one registered tensor), causal
SDPA attention, GPT-2 biases, no dropout (training here is short; dropout would also make resume
depend on RNG consumption inside the model). The training loss is computed by ``linear_cross_entropy``
over row chunks, so the (batch x seq x vocab) logits and their gradient never exist whole.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class GPTConfig:
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int  # already padded (see padded_vocab)


# Architecture of each preset; the vocabulary comes from the data's meta.json.
MODEL_PRESETS: dict[str, dict[str, int]] = {
    # CPU demo: 1.3M parameters with a 4096-token vocabulary (Brown corpus, reduced vocabulary).
    "tiny": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128},
    "small": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024},  # GPT-2 124M
    "medium": {"n_layer": 24, "n_head": 16, "n_embd": 1024, "block_size": 1024},  # GPT-2 350M
    # Larger GPT-2-family shapes, for the memory-budget search of bench/scale_suite.py (several GPUs, fsdp2).
    "large": {"n_layer": 36, "n_head": 20, "n_embd": 1280, "block_size": 1024},  # GPT-2 774M
    "xl": {"n_layer": 48, "n_head": 25, "n_embd": 1600, "block_size": 1024},  # GPT-2 1.5B
    "2b7": {"n_layer": 32, "n_head": 32, "n_embd": 2560, "block_size": 1024},  # 2.7B (GPT-Neo 2.7B's shape)
    "6b7": {"n_layer": 32, "n_head": 32, "n_embd": 4096, "block_size": 1024},  # 6.7B (GPT-3 6.7B's shape)
}


def padded_vocab(vocab_size: int, multiple: int = 64) -> int:
    """Round the vocabulary up to a multiple of 64 (50257 -> 50304): faster matmuls on GPUs."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return ((vocab_size + multiple - 1) // multiple) * multiple


def gpt_config(preset: str, vocab_size: int, block_size: int | None = None) -> GPTConfig:
    if preset not in MODEL_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(MODEL_PRESETS)}")
    arch = dict(MODEL_PRESETS[preset])
    if block_size is not None:
        arch["block_size"] = block_size
    return GPTConfig(vocab_size=padded_vocab(vocab_size), **arch)


LOSS_CHUNK_ROWS = 2048  # rows of logits alive at once in linear_cross_entropy (2048 x 50304 fp32 = 412 MB)


class _LinearCrossEntropy(torch.autograd.Function):
    """mean cross_entropy(h @ weight.T, targets) whose gradients are computed chunk by chunk in forward.

    Plain autograd keeps the whole logits tensor plus an fp32 log-softmax of it for backward (GPT-2 Small,
    6 x 1024 tokens: 0.6 GB bf16 + 1.2 GB fp32, and another 1.2 GB for their gradient). Here each chunk's
    logits live only while its share of grad_h and grad_weight is accumulated; backward only scales them.
    Same matmuls as autograd (logits, grad_h, grad_weight), so no recomputation.
    """

    @staticmethod
    def forward(ctx, h, weight, targets, compute_dtype, need_h, need_weight):
        n = h.shape[0]
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        grad_h = torch.empty_like(h) if need_h else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
        w = weight.to(compute_dtype)
        for start in range(0, n, LOSS_CHUNK_ROWS):
            hc = h[start:start + LOSS_CHUNK_ROWS].to(compute_dtype)
            tc = targets[start:start + LOSS_CHUNK_ROWS]
            logits = (hc @ w.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            loss += (lse - logits.gather(1, tc[:, None]).squeeze(1)).sum()
            if need_h or need_weight:
                # d(mean loss)/d(logits) = (softmax - one_hot) / n, built in place in the logits buffer.
                grad = logits.sub_(lse[:, None]).exp_()
                grad.scatter_add_(1, tc[:, None], torch.full_like(lse[:, None], -1.0))
                grad = grad.mul_(1.0 / n).to(compute_dtype)
                if need_h:
                    grad_h[start:start + LOSS_CHUNK_ROWS] = grad @ w
                if need_weight:
                    grad_weight.add_(grad.t() @ hc)
        ctx.save_for_backward(*(t for t in (grad_h, grad_weight) if t is not None))
        ctx.need, ctx.weight_dtype = (need_h, need_weight), weight.dtype
        return loss / n

    @staticmethod
    def backward(ctx, grad_loss):
        saved = iter(ctx.saved_tensors)
        grad_h = next(saved) * grad_loss if ctx.need[0] else None
        grad_weight = (next(saved) * grad_loss).to(ctx.weight_dtype) if ctx.need[1] else None
        return grad_h, grad_weight, None, None, None, None


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(h @ weight.T, targets)`` (mean over rows; no ignore_index) without materialising
    all logits. ``h``: (rows, d); ``weight``: (vocab, d); ``targets``: (rows,). Under autocast the matmuls
    run in the autocast dtype and the softmax in fp32, as autocast would do for the plain expression."""
    device_type = h.device.type
    compute_dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else h.dtype
    grad_on = torch.is_grad_enabled()
    with torch.autocast(device_type, enabled=False):
        return _LinearCrossEntropy.apply(
            h, weight, targets, compute_dtype, grad_on and h.requires_grad, grad_on and weight.requires_grad
        )


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"n_embd {config.n_embd} is not divisible by n_head {config.n_head}")
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: one tensor, registered once
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled by 1/sqrt(2 * n_layer) so the residual stream stays O(1).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # parameters() already de-duplicates the tie

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Without targets: (logits, None). With targets: (None, mean cross-entropy loss)."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        pos = torch.arange(T, device=idx.device)
        # A module call, not F.embedding on the weight: HiMA's depth layout hooks the embedding's output to cut
        # the tied weight's input side while the stem is Cold (hima.depth.InputSideCut).
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x), None
        # Training and evaluation need only the loss: no (B, T, vocab) logits are returned.
        return None, linear_cross_entropy(x.view(B * T, -1), self.lm_head.weight, targets.view(-1))
