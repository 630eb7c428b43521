"""A Hugging Face Trainer with HiMA and a live run folder: a tiny GPT-2 built from a config (no downloads).

    python trainer/examples/hf_trainer.py --out .hima/runs/hf-trainer --steps 100

Two additions to an ordinary Trainer script, marked "HiMA": the callback, and the Trainer's optimizer hook
that lets HiMA wrap the optimizer the Trainer builds (hima/integrations/huggingface.py says why both).
"""
from __future__ import annotations

import argparse
import os
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from hima import HiMAConfig
from hima.integrations.huggingface import HiMACallback

VOCAB, LENGTH = 64, 32


class SyntheticTokens(torch.utils.data.Dataset):
    """Sequences where each token mostly follows from the previous one: learnable in a few dozen steps."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        start = torch.randint(VOCAB, (n, 1), generator=g)
        steps = torch.arange(LENGTH)
        self.ids = (start * 7 + 3 * steps) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run folder, e.g. .hima/runs/hf-trainer")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--output-dir", help="the Trainer's own output folder (default: a temporary one)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=4, n_head=2, bos_token_id=0, eos_token_id=0))
    training = TrainingArguments(
        output_dir=args.output_dir or tempfile.mkdtemp(prefix="hf-trainer-"), max_steps=args.steps,
        per_device_train_batch_size=8, learning_rate=3e-3, logging_steps=5, eval_strategy="steps",
        eval_steps=max(1, args.steps // 2), save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
        optim="adamw_torch", disable_tqdm=True, seed=0,
    )
    # HiMA: the depth layout (GPT-2's blocks are found), Cold from the bottom after 10 steps.
    hima = HiMACallback(args.out, HiMAConfig(hot=0.5, warm=0.75, first_retier=10, retier_every=10))
    trainer = Trainer(
        model=model, args=training, train_dataset=SyntheticTokens(512, 0), eval_dataset=SyntheticTokens(32, 1),
        callbacks=[hima],  # HiMA
        optimizer_cls_and_kwargs=hima.optimizer_cls_and_kwargs(model, training),  # HiMA wraps the Trainer's optimizer
    )
    trainer.train()
    counts = {t: c["tensors"] for t, c in hima.hima.counts().items()}
    print(f"{hima.hima.step_count} HiMA steps; tiers {counts}; run folder {os.fspath(args.out)}")


if __name__ == "__main__":
    main()
