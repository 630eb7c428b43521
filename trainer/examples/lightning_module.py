"""A Lightning module trained with HiMA and a live run folder: a small MLP regressor on synthetic data.

    python trainer/examples/lightning_module.py --out .hima/runs/lightning --steps 100

The module is ordinary Lightning (training_step, validation_step, configure_optimizers); the one addition,
marked "HiMA", is the callback, which wraps the optimizer configure_optimizers returns.
"""
from __future__ import annotations

import argparse
import logging

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hima import HiMAConfig
from hima.integrations.lightning import HiMACallback


class Regressor(pl.LightningModule):
    def __init__(self, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        layers = [nn.Linear(8, width), nn.GELU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.GELU()]
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=3e-3)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + 0.01 * step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def synthetic(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return TensorDataset(x, torch.sin(2 * x[:, :1]) + x[:, 1:2] * x[:, 2:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run folder, e.g. .hima/runs/lightning")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)

    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_steps=args.steps, accelerator="auto", devices=1, val_check_interval=max(1, args.steps // 2),
        check_val_every_n_epoch=None, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
        # HiMA: tiers per tensor (an MLP has no stack of identical blocks for the depth layout).
        callbacks=[HiMACallback(args.out, HiMAConfig(layout="tensor", first_retier=10, retier_every=10, probe_every=5))],
    )
    train = DataLoader(synthetic(4096, 0), batch_size=32, shuffle=True)
    val = DataLoader(synthetic(256, 1), batch_size=64)
    trainer.fit(Regressor(), train, val)
    hima = trainer.callbacks[0].hima
    print(f"{hima.step_count} HiMA steps; tiers {({t: c['tensors'] for t, c in hima.counts().items()})}; run folder {args.out}")


if __name__ == "__main__":
    main()
