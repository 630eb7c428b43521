"""Your own PyTorch loop with HiMA and a live run folder: a small CNN on synthetic images (no downloads).

    python trainer/examples/own_loop.py --out .hima/runs/own-loop --steps 200
    python trainer/examples/own_loop.py --out .hima/runs/own-loop-fp16 --steps 200 --fp16

Open the folder in the HiMA panel while it runs: the tier map, loss and memory charts follow it, and the
cutoff controls reach this process through <out>/control.sock. The lines that matter are marked "HiMA".
"""
from __future__ import annotations

import argparse

import torch
from torch import nn

from hima import HiMA, HiMAConfig
from hima.monitor import RunMonitor


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def synthetic_batch(step: int, size: int = 32, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class is a colour-and-position pattern, learnable in a few hundred steps."""
    g = torch.Generator().manual_seed(step)
    labels = torch.randint(classes, (size,), generator=g)
    images = 0.5 * torch.randn(size, 3, 16, 16, generator=g)
    for i, c in enumerate(labels.tolist()):
        images[i, c % 3, (c // 3) * 4:(c // 3) * 4 + 4, :] += 1.5
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run folder, e.g. .hima/runs/own-loop")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hot", type=float, default=0.3)
    parser.add_argument("--warm", type=float, default=0.6)
    parser.add_argument("--fp16", action="store_true", help="fp16 autocast with torch.amp.GradScaler")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SmallCNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    # HiMA: tiers per tensor (a CNN has no stack of identical blocks for the depth layout).
    hima = HiMA(model, optimizer, HiMAConfig(layout="tensor", hot=args.hot, warm=args.warm, first_retier=20,
                                             retier_every=20, probe_every=10))
    scaler = torch.amp.GradScaler(device, enabled=args.fp16)
    autocast = torch.autocast(device, dtype=torch.float16, enabled=args.fp16)
    loss_fn = nn.CrossEntropyLoss()

    # HiMA: the run folder; `with` writes `done` (completed, stopped, or error with the exception).
    with RunMonitor(args.out, model, hima=hima, max_steps=args.steps, log_every=5,
                    config={"example": "own_loop", "fp16": args.fp16}) as monitor:
        for step in range(args.steps):
            x, y = synthetic_batch(step)
            with autocast:
                loss = loss_fn(model(x.to(device)), y.to(device))
            scaler.scale(loss).backward()
            scaler.unscale_(hima)        # fp16: scores and the clip see unscaled gradients (a no-op without fp16)
            hima.clip_grad_norm_(1.0)
            scaler.step(hima)            # = hima.step(); skipped (and not counted) on an inf/nan gradient
            scaler.update()
            hima.zero_grad()
            monitor.step(loss, tokens=len(x))  # HiMA: events, and the panel's controls between two steps
            if (step + 1) % 50 == 0:
                with torch.no_grad():
                    vx, vy = synthetic_batch(10_000)
                    monitor.eval(loss_fn(model(vx.to(device)), vy.to(device)))
            if monitor.should_stop:  # HiMA: Stop pressed in the panel
                break
    print(f"{hima.step_count} steps; tiers {({t: c['tensors'] for t, c in hima.counts().items()})}; run folder {args.out}")


if __name__ == "__main__":
    main()
