"""`python -m hima train --check`: the launchers (CLI, extension) ask it before they make a run folder, so a bad
config file, preset, cutoff or data folder is reported (exit 2, the reason on stderr) and leaves nothing behind."""
import json
import subprocess

import pytest

from conftest import FAST_CONFIG, trainer_cmd


def check(data, out, config, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([*trainer_cmd(data, out, config, *extra), "--check"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def test_a_good_configuration_passes_without_a_run_folder(token_dir, tmp_path, fast_config):
    out = tmp_path / "runs" / "r1"
    proc = check(token_dir, out, fast_config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "configuration ok" in proc.stderr
    assert not out.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("settings, extra, reason", [
    ({"learning_rate": 1}, (), "unknown key"),
    ({"hot": 0.9, "warm": 0.2}, (), "hot <= warm"),
    ({"warm": 1.5}, (), "warm"),
    ({"pin_biases": "lukewarm"}, (), "lukewarm"),  # an engine setting only HiMAConfig checks
    ({}, ("--preset", "huge"), "invalid choice: 'huge'"),
])
def test_bad_settings_exit_2_with_the_reason_and_no_run_folder(token_dir, tmp_path, settings, extra, reason):
    config = tmp_path / "bad.hima.json"
    config.write_text(json.dumps({**FAST_CONFIG, **settings}))
    out = tmp_path / "run"
    proc = check(token_dir, out, config, *extra)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert reason in proc.stderr
    assert not out.exists()


def test_a_damaged_config_file_or_data_folder_exits_2(token_dir, tmp_path, fast_config):
    config = tmp_path / "torn.hima.json"
    config.write_text('{"lr": 0.001,')
    proc = check(token_dir, tmp_path / "a", config)
    assert proc.returncode == 2 and "cannot read config file" in proc.stderr
    empty = tmp_path / "no-tokens"
    empty.mkdir()
    proc = check(empty, tmp_path / "b", fast_config)
    assert proc.returncode == 2 and "missing" in proc.stderr and "meta.json" in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

