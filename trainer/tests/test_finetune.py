"""Fine-tuning: a run started from base weights (init_from), and LISA as a method of the engine."""
import json

import pytest
import torch

from hima import HiMA, HiMAConfig
from hima.app.base_weights import apply_base, load_base
from hima.app.checkpoint import CheckpointError
from hima.app.model import GPT, gpt_config

from conftest import VOCAB, read_events, run_trainer


def _final_checkpoint(run_dir):
    folder = run_dir / "checkpoints"
    return folder / (folder / "latest").read_text().strip()


@pytest.fixture(scope="module")
def base_run(token_dir, tmp_path_factory):
    """A tiny base trained on CPU, as the code-server journey makes one."""
    folder = tmp_path_factory.mktemp("base")
    config = folder / "run.json"
    config.write_text(json.dumps({"max_steps": 6, "eval_every": 0, "eval_batches": 1, "log_every": 1, "seed": 3}))
    out = folder / "run"
    result = run_trainer(token_dir, out, config, "--method", "full")
    assert result.returncode == 0, result.stderr
    return out, config


def test_a_run_starts_from_the_base_weights_with_a_fresh_optimizer(base_run, token_dir, tmp_path):
    base_dir, config = base_run
    base_ckpt = torch.load(_final_checkpoint(base_dir), weights_only=False)
    out = tmp_path / "ft"
    result = run_trainer(token_dir, out, config, "--init-from", str(base_dir), "--max-steps", "3")
    assert result.returncode == 0, result.stderr
    events = read_events(out)
    hello = events[0]
    assert hello["type"] == "hello" and hello["start_step"] == 0  # a new run, not a resume
    assert hello["base"]["kind"] == "hima-checkpoint" and hello["base"]["step"] == 6
    assert hello["base"]["path"] == str(_final_checkpoint(base_dir))
    assert len(hello["base"]["sha256"]) == 64
    # The first loss is the base's loss level, far below a fresh model's (ln(VOCAB) at init).
    scratch = run_trainer(token_dir, tmp_path / "scratch", config, "--max-steps", "3")
    first = lambda evs: next(e["loss"] for e in evs if e["type"] == "step")
    assert first(events) < first(read_events(tmp_path / "scratch")) - 0.05
    # Fresh optimizer and schedule: step counter from 0, the checkpoint records the base for a resume.
    ft = torch.load(_final_checkpoint(out), weights_only=False)
    assert ft["step"] == 3 and ft["base"]["step"] == 6
    assert ft["hima"]["step"] == 3
    assert not torch.equal(ft["model"]["lm_head.weight"], base_ckpt["model"]["lm_head.weight"])  # it trained


def test_a_plain_state_dict_is_a_base_too(token_dir, tmp_path):
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", VOCAB, 64))
    path = tmp_path / "weights.pt"
    torch.save({"_orig_mod." + k: v for k, v in model.state_dict().items()}, path)  # as a compiled model saves
    base = load_base(str(path))
    assert base.kind == "state-dict" and base.step is None
    other = GPT(gpt_config("tiny", VOCAB, 64))
    apply_base(other, base)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


@pytest.mark.parametrize("content, message", [
    (None, "base weights not found"),
    (b"not a zip at all", "neither a HiMA checkpoint nor a state dict"),
    ("list", "do not hold a state dict"),
])
def test_a_bad_base_is_refused_before_the_run_folder_exists(token_dir, fast_config, tmp_path, content, message):
    path = tmp_path / "base.pt"
    if content == "list":
        torch.save([torch.zeros(2)], path)
    elif content is not None:
        path.write_bytes(content)
    out = tmp_path / "run"
    result = run_trainer(token_dir, out, fast_config, "--init-from", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()


def test_a_base_of_another_model_names_what_differs(base_run, token_dir, tmp_path):
    base_dir, config = base_run
    shorter = tmp_path / "run.json"
    shorter.write_text(json.dumps({**json.loads(config.read_text()), "block_size": 32}))
    out = tmp_path / "run"
    result = run_trainer(token_dir, out, shorter, "--init-from", str(base_dir))
    assert result.returncode == 2
    assert "is a different model: block_size 128 there, 32 here" in result.stderr
    error = read_events(out)[-1]  # found once the data says which model this is: an error event, no steps
    assert error["type"] == "error" and "block_size" in error["message"]


def _lisa(model, **config):
    config = {"method": "lisa", "lisa_layers": 1, "lisa_interval": 3, "seed": 5, **config}
    return HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3), HiMAConfig(**config))


def _hot_blocks(hima):
    tiers = hima.tiers()
    return sorted({name.split(".")[2] for name, tier in tiers.items() if name.startswith("transformer.h.") and tier == "hot"})


def test_lisa_trains_embeddings_and_head_and_samples_blocks_every_interval():
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", 64, 16))
    hima = _lisa(model)
    tiers = hima.tiers()
    # Embeddings (the tied wte is in the head, wpe in the stem) and the final norm are always trained.
    for name in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight"):
        assert tiers[name] == "hot"
    samples = []
    g = torch.Generator().manual_seed(0)
    for step in range(12):
        if step % 3 == 0:
            samples.append(_hot_blocks(hima))
            assert len(samples[-1]) == 1  # lisa_layers blocks at a time, whole blocks
            # A block left out gets no gradient and holds no optimizer state on the device.
            for name, p in model.named_parameters():
                if hima.tier_of(name) == "cold":
                    assert not p.requires_grad and p not in hima.optimizer.state
        idx = torch.randint(0, 64, (2, 16), generator=g)
        model(idx, idx)[1].backward()
        hima.step()
        hima.zero_grad()
    assert len({tuple(s) for s in samples}) > 1  # re-sampled over the run
    # Seeded by (seed, interval): the same engine settings draw the same blocks (a resumed run too).
    again = _lisa(GPT(gpt_config("tiny", 64, 16)))
    assert _hot_blocks(again) == samples[0]


def test_lisa_refuses_cutoffs_and_pins():
    hima = _lisa(GPT(gpt_config("tiny", 64, 16)))
    with pytest.raises(ValueError, match="not supported for method 'lisa'"):
        hima.set_cutoffs(0.2, 0.5)
    with pytest.raises(ValueError, match="not supported for method 'lisa'"):
        hima.pin("transformer.h.0.mlp.c_fc.weight", "hot")


def test_lisa_runs_in_the_trainer(token_dir, fast_config, tmp_path):
    out = tmp_path / "lisa"
    result = run_trainer(token_dir, out, fast_config, "--method", "lisa", "--max-steps", "4")
    assert result.returncode == 0, result.stderr
    hello = read_events(out)[0]
    assert hello["method"] == "lisa" and hello["base"] is None
