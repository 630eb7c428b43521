"""HiMA in frameworks that step the optimizer themselves (HiMAOptimizer, the Hugging Face and Lightning callbacks)
and the runnable examples in trainer/examples/, each checked through the run folder it writes."""
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import torch
from torch import nn

from hima import HiMA, HiMAConfig
from hima.integrations import HiMAOptimizer
from hima.protocol import RUN_FOLDER, schema, validate_event

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def read_events(out: Path) -> list[dict]:
    events = [json.loads(line) for line in (out / RUN_FOLDER["events"]).read_text().splitlines()]
    validator = jsonschema.Draft202012Validator(schema())
    for event in events:
        validate_event(event)
        validator.validate({"event": event})
    return events


def run_example(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def check_run(out: Path, steps: int, method: str = "hima") -> list[dict]:
    events = read_events(out)
    types = [e["type"] for e in events]
    assert types[0] == "hello" and events[0]["method"] == method and events[0]["max_steps"] == steps
    assert "step" in types and "memory" in types and "eval" in types
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "completed" and events[-1]["step"] == steps
    if method != "full":
        assert types[1] == "tiers" and any(e["transitions"] for e in events if e["type"] == "tiers")
    return events


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))


# ---- HiMAOptimizer ----------------------------------------------------------------------------------------

def test_hima_optimizer_routes_step_schedule_scaler_and_state_through_the_engine():
    model = mlp()
    inner = torch.optim.AdamW(model.parameters(), lr=0.1)
    hima = HiMA(model, inner, HiMAConfig(layout="tensor", first_retier=2, retier_every=2, probe_every=0))
    opt = HiMAOptimizer(hima)
    assert isinstance(opt, torch.optim.Optimizer) and opt.param_groups is inner.param_groups
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 ** step)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    x = torch.randn(8, 4)

    def closure():
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        scaler.scale(loss).backward()
        return loss

    for _ in range(4):
        closure()
        scaler.step(opt)  # unscale_ and step through the wrapper
        scaler.update()
        schedule.step()
    assert hima.step_count == 4 and inner.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)
    assert opt.step(closure) is not None and hima.step_count == 5  # Lightning's way: the closure runs first
    state = opt.state_dict()
    assert state["format"] == hima.state_dict()["format"] and state["step"] == 5
    with pytest.raises(ValueError, match="add parameter groups before"):
        opt.add_param_group({"params": [nn.Parameter(torch.zeros(1))]})


# ---- the examples -----------------------------------------------------------------------------------------

def test_own_loop_example(tmp_path):
    out = tmp_path / "own-loop"
    printed = run_example("own_loop.py", "--out", str(out), "--steps", "50")
    events = check_run(out, 50)
    assert events[0]["tensors"][0]["name"] == "features.0.weight"
    assert "50 steps" in printed


def test_own_loop_example_fp16(tmp_path):
    out = tmp_path / "own-loop-fp16"
    printed = run_example("own_loop.py", "--out", str(out), "--steps", "50", "--fp16")
    check_run(out, 50)
    applied = int(re.match(r"(\d+) steps", printed).group(1))
    assert 40 <= applied <= 50  # GradScaler may skip a few early steps (inf gradients at the initial scale)


def test_hf_trainer_example(tmp_path):
    pytest.importorskip("transformers")  # the test extras (trainer/pyproject.toml)
    out = tmp_path / "hf"
    printed = run_example("hf_trainer.py", "--out", str(out), "--steps", "20", "--output-dir", str(tmp_path / "hf-out"))
    events = check_run(out, 20)
    assert "20 HiMA steps" in printed  # every Trainer optimizer step went through the engine
    assert events[0]["config"]["user"]["trainer"] == "transformers.Trainer"
    assert events[-1]["summary"]["counts"]["cold"]["tensors"] > 0
    assert [e["step"] for e in events if e["type"] == "eval"] == [10, 20]


def test_lightning_example(tmp_path):
    pytest.importorskip("lightning")
    out = tmp_path / "lightning"
    printed = run_example("lightning_module.py", "--out", str(out), "--steps", "30")
    events = check_run(out, 30)
    assert "30 HiMA steps" in printed
    lrs = [e["lr"] for e in events if e["type"] == "step"]
    assert lrs[-1] < lrs[0]  # the module's LR schedule reaches the optimizer HiMA steps


# ---- controls in a framework's loop -----------------------------------------------------------------------

def send_and_wait_queued(monitor, *controls) -> None:
    """Send control lines to the run's socket; return once the socket thread has queued them all."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(monitor._channel.path)
        s.sendall("".join(json.dumps({"v": 1, **c}) + "\n" for c in controls).encode())
    deadline = time.monotonic() + 10
    while monitor._lines.qsize() < len(controls):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_hf_trainer_applies_controls_and_stops(tmp_path):
    pytest.importorskip("transformers")
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    from hima.integrations.huggingface import HiMACallback

    sys.path.insert(0, str(EXAMPLES))
    try:
        from hf_trainer import SyntheticTokens
    finally:
        sys.path.remove(str(EXAMPLES))
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0))
    args = TrainingArguments(output_dir=str(tmp_path / "hf-out"), max_steps=50, per_device_train_batch_size=4, logging_steps=1,
                             save_strategy="no", report_to=[], use_cpu=True, optim="adamw_torch", disable_tqdm=True)
    hima = HiMACallback(tmp_path / "run", HiMAConfig(first_retier=2, retier_every=2))

    class Panel(TrainerCallback):  # runs before HiMACallback's on_step_end: the controls are queued by then
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                send_and_wait_queued(hima.monitor, {"type": "set_cutoffs", "id": "c", "hot": 0.25, "warm": 0.5},
                                     {"type": "checkpoint", "id": "k"}, {"type": "stop", "id": "s"})

    trainer = Trainer(model=model, args=args, train_dataset=SyntheticTokens(64, 0), callbacks=[Panel(), hima],
                      optimizer_cls_and_kwargs=hima.optimizer_cls_and_kwargs(model, args))
    trainer.train()
    events = read_events(tmp_path / "run")
    acks = {e["id"]: e for e in events if e["type"] == "ack"}
    assert set(acks) == {"c", "k", "s"} and acks["c"]["effective_step"] == 3
    assert hima.hima.cutoffs == (0.25, 0.5) and hima.hima.step_count == 3
    assert [e["path"] for e in events if e["type"] == "checkpoint"] == [str(tmp_path / "hf-out" / "checkpoint-3")]
    assert (tmp_path / "hf-out" / "checkpoint-3").is_dir()
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "stopped" and events[-1]["step"] == 3


def test_hf_callback_without_the_optimizer_hook_says_what_to_pass(tmp_path):
    pytest.importorskip("transformers")
    from transformers import Trainer, TrainingArguments

    from hima.integrations.huggingface import HiMACallback

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 1)

        def forward(self, x, labels):
            return {"loss": nn.functional.mse_loss(self.lin(x), labels)}

    data = [{"x": torch.randn(4), "labels": torch.randn(1)} for _ in range(8)]
    args = TrainingArguments(output_dir=str(tmp_path / "o"), max_steps=2, report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=Tiny(), args=args, train_dataset=data, callbacks=[HiMACallback(tmp_path / "run", HiMAConfig())])
    with pytest.raises(RuntimeError, match="optimizer_cls_and_kwargs=callback.optimizer_cls_and_kwargs"):
        trainer.train()


def test_lightning_stop_control_ends_fit(tmp_path):
    pytest.importorskip("lightning")
    import lightning.pytorch as pl

    from hima.integrations.lightning import HiMACallback

    sys.path.insert(0, str(EXAMPLES))
    try:
        from lightning_module import Regressor, synthetic
    finally:
        sys.path.remove(str(EXAMPLES))
    callback = HiMACallback(tmp_path / "run", HiMAConfig(layout="tensor", first_retier=2, retier_every=2))

    class Panel(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 4:
                send_and_wait_queued(callback.monitor, {"type": "pin", "id": "p", "name": "net.0.weight", "tier": "cold"},
                                     {"type": "checkpoint", "id": "k"}, {"type": "stop", "id": "s"})

    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_steps=50, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         callbacks=[Panel(), callback])
    trainer.fit(Regressor(width=16, depth=2), torch.utils.data.DataLoader(synthetic(512, 0), batch_size=16))
    events = read_events(tmp_path / "run")
    assert {e["id"] for e in events if e["type"] == "ack"} == {"p", "k", "s"}
    assert callback.hima.tier_of("net.0.weight") == "cold" and callback.hima.is_pinned("net.0.weight")
    assert trainer.global_step == 4 and events[-1]["reason"] == "stopped"
    checkpoint = next(e["path"] for e in events if e["type"] == "checkpoint")
    assert Path(checkpoint).is_file()
    assert torch.load(checkpoint, weights_only=False)["optimizer_states"][0]["format"].startswith("hima-engine/")


def test_hf_optimizer_hook_builds_the_args_optimizer_and_clips_applied_gradients(tmp_path):
    pytest.importorskip("transformers")
    from transformers import TrainingArguments

    from hima.integrations.huggingface import HiMACallback

    model = mlp()
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=0.01, weight_decay=0.1, optim="adamw_torch",
                             max_grad_norm=0, report_to=[], use_cpu=True)
    callback = HiMACallback(tmp_path / "run", HiMAConfig(layout="tensor"), max_grad_norm=0.5)
    cls, kwargs = callback.optimizer_cls_and_kwargs(model, args)
    groups = [{"params": [p for p in model.parameters() if p.dim() > 1], "weight_decay": 0.1},
              {"params": [p for p in model.parameters() if p.dim() == 1], "weight_decay": 0.0}]
    optimizer = cls(groups, **kwargs)  # what Trainer.create_optimizer does with the pair
    assert isinstance(callback.hima.optimizer, torch.optim.AdamW) and optimizer.hima is callback.hima
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0] and optimizer.param_groups[0]["lr"] == 0.01
    model(torch.randn(8, 4)).pow(2).sum().mul(1000).backward()
    optimizer.step()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]))
    assert float(norm) == pytest.approx(0.5, rel=1e-3) and callback.hima.step_count == 1
