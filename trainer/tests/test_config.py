import json

import pytest

from hima.app.config import ConfigError, engine_settings, load_config_file, resolve_config


def test_flags_win_over_file_and_file_over_preset():
    cfg = resolve_config({"lr": 1e-3, "max_steps": 7, "data": "d", "out": "o"}, {"max_steps": 9})
    assert (cfg.lr, cfg.max_steps, cfg.preset) == (1e-3, 9, "tiny")
    small = resolve_config({}, {"preset": "small", "data": "d", "out": "o"})
    assert small.lr == 6e-4 and small.data_order == "sequential"
    # The measured GPU recipe (no Warm, Cold ramped in over 50-95% of the budget), in the engine's steps:
    assert (small.hot, small.warm, small.ramp_start, small.ramp_end) == (0.5, 0.5, 0.5, 0.95)
    engine = engine_settings(resolve_config({}, {"preset": "small", "data": "d", "out": "o", "max_steps": 3000}))
    assert (engine["hot"], engine["warm"], engine["ramp_start"], engine["ramp_end"]) == (0.5, 0.5, 1500, 2850)
    # A flag or config file still wins over the preset's recipe.
    mine = resolve_config({"hot": 0.3, "warm": 0.6}, {"preset": "small", "data": "d", "out": "o"})
    assert (mine.hot, mine.warm) == (0.3, 0.6)


def test_unknown_keys_and_bad_values_are_clear_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"lr": 1e-3, "learning_rate": 1}))
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        load_config_file(str(path))
    path.write_text(json.dumps({"max_steps": "ten"}))
    with pytest.raises(ConfigError, match="'max_steps' must be int"):
        load_config_file(str(path))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="hot <= warm"):
        resolve_config({}, {"data": "d", "out": "o", "hot": 0.8, "warm": 0.2})
    with pytest.raises(ConfigError, match="no data directory"):
        resolve_config({}, {"out": "o"})
    with pytest.raises(ConfigError, match="run id"):
        resolve_config({}, {"data": "d", "out": "o", "run_id": "../escape"})


def test_engine_settings_pass_only_what_is_set():
    cfg = resolve_config({"hysteresis": 0.2}, {"data": "d", "out": "o", "method": "hima-no-warm"})
    kw = engine_settings(cfg)
    assert kw["method"] == "hima-no-warm" and kw["hysteresis"] == 0.2 and "probe_every" not in kw


def test_probe_fraction_and_pin_biases_from_a_config_file_reach_the_engine(tmp_path):
    import torch
    from torch import nn

    from hima.engine import HiMA, HiMAConfig

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"probe_fraction": 0.05, "pin_biases": "warm", "layout": "tensor"}))
    cfg = resolve_config(load_config_file(str(path)), {"data": "d", "out": "o"})
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    hima = HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(**engine_settings(cfg)))
    assert hima.config.probe_fraction == 0.05
    assert hima.tier_of("0.bias") == hima.tier_of("2.bias") == "warm" and hima.is_pinned("0.bias")
    assert hima.tier_of("1.bias") == "hot"  # a norm's bias follows pin_norms (default Hot), not pin_biases

    unset = engine_settings(resolve_config({}, {"data": "d", "out": "o"}))
    assert "probe_fraction" not in unset and "pin_biases" not in unset  # the engine's defaults apply
    path.write_text(json.dumps({"probe_fraction": "many"}))
    with pytest.raises(ConfigError, match="'probe_fraction' must be float"):
        load_config_file(str(path))
    bad = engine_settings(resolve_config({"pin_biases": "lukewarm"}, {"data": "d", "out": "o"}))
    with pytest.raises(ValueError, match="lukewarm"):
        HiMAConfig(**bad).validate()


def test_plain_cuda_device_is_accepted_and_an_index_selects_the_device(monkeypatch):
    # `--device cuda` (no index) failed on GPUs with "Expected a torch.device with a specified index";
    # only cuda:N selects a device.
    import torch
    from hima.app.train import pick_device

    selected = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: selected.append(d))
    assert pick_device("cuda") == "cuda"
    assert selected == []
    assert pick_device("cuda:1") == "cuda:1"
    assert selected == [1]


BOUNDS = [
    ("--seed", "-1", "seed must be >= 0"),
    ("--seed", str(2**64), "seed must be at most 9007199254740991"),
    ("--batch-size", str(10**9), "batch_size must be at most 65536"),
    ("--lr", "1e308", "lr must be at most 10.0"),
    ("eval_batches", 10**9, "eval_batches must be at most 10000"),
    ("threads", 10**6, "threads must be at most 1024"),
]


@pytest.mark.parametrize("setting, value, message", BOUNDS)
def test_values_that_cannot_work_exit_2_before_a_run_folder_exists(token_dir, tmp_path, setting, value, message):
    # Each of these passed validation and failed once training had begun (exit 1 after hello).
    from conftest import FAST_CONFIG, events_of, run_trainer

    config = tmp_path / "c.json"
    flags = (setting, value) if setting.startswith("--") else ()
    config.write_text(json.dumps({**FAST_CONFIG, **({} if flags else {setting: value})}))
    out = tmp_path / "run"
    proc = run_trainer(token_dir, out, config, *flags)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = events_of(proc.stdout)[-1]
    assert error["type"] == "error" and message in error["message"]
    assert not out.exists()
