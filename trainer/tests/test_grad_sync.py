"""Gradient averaging over ranks (hima.app.grad_sync, hima.app.distributed) on 2 gloo processes of this machine, with
the real GPT model (tied embedding / lm-head weight, chunked linear + cross-entropy loss) and tiny buckets, so
a step has many of them.

The overlapped reduction must give exactly the after-backward gradients, start buckets while backward still
runs, reduce a frozen (Cold) tensor not at all, and reduce the tied weight once, after both of its uses. A
backward that raises must leave the reducer disarmed, and the next step must still be right.
"""
from __future__ import annotations

import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hima.app.grad_sync import OverlappedReducer, reduce_after_backward
from hima.app.model import GPT, GPTConfig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo on Linux/macOS")

WORLD = 2
BUCKET_BYTES = 16 * 1024  # tiny model, tiny buckets: about 20 of them per step
CONFIG = GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(worker, *args) -> None:
    """Run ``worker(rank, *args)`` on 2 processes of one gloo group; a failed assertion on a rank fails here."""
    mp.spawn(worker, args=(_free_port(), *args), nprocs=WORLD, join=True)


def _setup(rank: int, port: int) -> tuple[GPT, torch.Tensor, torch.Tensor]:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same model on both ranks
    model = GPT(CONFIG)
    rows = torch.Generator().manual_seed(100 + rank)  # each rank its own slice of the batch
    x = torch.randint(0, CONFIG.vocab_size, (2, CONFIG.block_size), generator=rows)
    y = torch.randint(0, CONFIG.vocab_size, (2, CONFIG.block_size), generator=rows)
    return model, x, y


def _grads(model: GPT) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _overlap_matches_after_backward(rank: int, port: int) -> None:
    model, x, y = _setup(rank, port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    params = list(model.parameters())
    frozen = model.transformer.h[0].mlp.c_fc.weight
    frozen.requires_grad_(False)  # as a Cold tensor: no gradient, no bytes
    reducer = OverlappedReducer(params, WORLD, BUCKET_BYTES)

    # Reference: backward, then all buckets (the reducer's hooks are registered but not armed: no-ops).
    model(x, y)[1].backward()
    sent_after = reduce_after_backward(params, WORLD, BUCKET_BYTES)
    reference = _grads(model)
    model.zero_grad(set_to_none=True)

    # Watch the pass: a parameter's hooks fire in registration order, so this one runs right after the
    # reducer's own: which parameter got its gradient, and how many buckets had started by then.
    seen: list[tuple[torch.Tensor, int]] = []
    for p in params:
        if p.requires_grad:
            p.register_post_accumulate_grad_hook(lambda p: seen.append((p, reducer.started)))

    reducer.arm()
    planned = reducer.planned
    model(x, y)[1].backward()
    sent_overlap = reducer.finish()
    assert not reducer.armed

    assert sent_overlap == sent_after == sum(4 * g.numel() for g in reference.values())
    assert "transformer.h.0.mlp.c_fc.weight" not in reference and frozen.grad is None
    overlapped = _grads(model)
    assert overlapped.keys() == reference.keys()
    for name in reference:
        assert torch.equal(overlapped[name], reference[name]), f"{name} differs after the overlapped reduction"
    # One hook call per trainable parameter, the tied weight included (after both its embedding and lm-head
    # uses: its gradient is complete last, at the bottom of the graph).
    wte = model.transformer.wte.weight
    assert sorted(id(p) for p, _ in seen) == sorted(id(p) for p in params if p.requires_grad)
    assert seen[-1][0] is wte or seen[-2][0] is wte  # wpe's gradient also comes at the very bottom
    # Buckets went out while backward ran: a third of them by the time half of the gradients existed, all
    # but the last one before the last gradient.
    started = [n for _, n in seen]
    assert planned >= 8 and started[len(started) // 2] >= planned // 3, (planned, started)
    assert started[-2] == planned - 1 and started[-1] == planned, (planned, started)
    dist.destroy_process_group()


def test_overlapped_reduction_gives_the_after_backward_gradients():
    _spawn(_overlap_matches_after_backward)


class _FailInBackward(torch.autograd.Function):
    """Identity whose backward raises once armed: a failure halfway through backward."""

    armed = False

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        if _FailInBackward.armed:
            raise RuntimeError("injected failure in backward")
        return grad


def _failed_backward_disarms(rank: int, port: int, run_dir: str) -> None:
    from hima.app.distributed import Distributed

    model, x, y = _setup(rank, port)
    os.environ["HIMA_DIST_BUCKET_BYTES"] = str(BUCKET_BYTES)
    group = Distributed(run_dir, "cpu", grad_sync="overlap")
    reducer_model = group.wrap(model)
    assert reducer_model is model and group._reducer is not None
    # Between the two blocks: the upper block's buckets have started when backward fails here.
    model.transformer.h[0].register_forward_hook(lambda module, args, out: _FailInBackward.apply(out))

    _FailInBackward.armed = True
    with pytest.raises(RuntimeError, match="injected failure"):
        group.backward(model(x, y)[1])
    assert not group._reducer.armed
    model.zero_grad(set_to_none=True)

    # A backward outside the reducer (not armed) reduces nothing; the next step is reduced correctly.
    _FailInBackward.armed = False
    model(x, y)[1].backward()
    local = _grads(model)
    model.zero_grad(set_to_none=True)
    group.backward(model(x, y)[1])
    averaged = _grads(model)
    assert averaged.keys() == local.keys()
    for name, mine in local.items():
        both = [torch.empty_like(mine) for _ in range(WORLD)]
        dist.all_gather(both, mine)
        assert not torch.equal(both[0], both[1]), name  # the ranks' batches differ: averaging matters
        assert torch.allclose(averaged[name], (both[0] + both[1]) / WORLD, rtol=1e-6, atol=1e-9), name

    # Two backward passes into one armed pass would lose the second into buckets already sent: refused.
    model.zero_grad(set_to_none=True)
    loss = model(x, y)[1]
    group._reducer.arm()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second gradient in one backward"):
        loss.backward()
    group._reducer.disarm()
    group.close(clean=True)


def test_a_failed_backward_leaves_the_reducer_disarmed(tmp_path):
    _spawn(_failed_backward_disarms, str(tmp_path))
