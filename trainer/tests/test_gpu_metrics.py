"""NVML figures in memory events: present when nvidia-ml-py answers, absent (never an error) otherwise."""
import sys
import types

import jsonschema
import pytest

from hima.gpu_metrics import GpuMetrics
from hima.protocol import SchemaError, definition, schema, validate, validate_event


def fake_nvml(power_supported=True, init_fails=False):
    nvml = types.ModuleType("pynvml")
    nvml.NVML_TEMPERATURE_GPU = 0
    calls = []

    def init():
        calls.append("init")
        if init_fails:
            raise RuntimeError("NVML Shared Library Not Found")

    def power(handle):
        if not power_supported:
            raise RuntimeError("Not Supported")
        return 312_500  # milliwatts

    nvml.nvmlInit = init
    nvml.nvmlDeviceGetHandleByIndex = lambda index: ("gpu", index)
    nvml.nvmlDeviceGetHandleByUUID = lambda uuid: ("gpu", uuid)
    nvml.nvmlDeviceGetUtilizationRates = lambda handle: types.SimpleNamespace(gpu=87, memory=40)
    nvml.nvmlDeviceGetPowerUsage = power
    nvml.nvmlDeviceGetTemperature = lambda handle, sensor: 71
    return nvml, calls


def memory_event(**extra):
    return {"v": 1, "type": "memory", "step": 5, "device": "cuda:0",
            "optimizer_state_bytes": {"total": 8, "hot": 8, "warm": 0, "cold": 0}, "full_optimizer_state_bytes": 8,
            "evicted_bytes": 0, "allocated_bytes": 1, "peak_bytes": 2, "rss_bytes": 3, **extra}


def test_figures_from_nvml_fit_the_memory_event(monkeypatch):
    nvml, _ = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    gpu = GpuMetrics().read("cuda:0")
    assert gpu == {"utilization_percent": 87.0, "power_w": 312.5, "temperature_c": 71.0}
    event = memory_event(gpu=gpu)
    validate_event(event)
    jsonschema.Draft202012Validator(schema()).validate({"event": event})


def test_a_figure_the_gpu_does_not_report_is_left_out(monkeypatch):
    nvml, _ = fake_nvml(power_supported=False)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert GpuMetrics().read("cuda") == {"utilization_percent": 87.0, "temperature_c": 71.0}


def test_no_package_no_driver_or_no_gpu_means_no_figures(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed: import fails
    assert GpuMetrics().read("cuda:0") is None
    nvml, calls = fake_nvml(init_fails=True)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    metrics = GpuMetrics()
    assert metrics.read("cuda:0") is None and metrics.read("cuda:0") is None
    assert calls == ["init"]  # a failed start is not retried at every event
    assert GpuMetrics().read("cpu") is None


def test_the_schema_keeps_gpu_figures_exact():
    validate_event(memory_event())  # optional
    memory = definition("MemoryEvent")
    with pytest.raises(SchemaError, match="unknown field 'fan'"):
        validate(memory_event(gpu={"fan": 50}), memory)
    with pytest.raises(SchemaError, match="<= 100"):
        validate(memory_event(gpu={"utilization_percent": 140}), memory)
