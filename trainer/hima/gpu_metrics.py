"""GPU utilization, power and temperature for `memory` events, from NVML when ``nvidia-ml-py`` is installed.

Optional by design: no package, no NVIDIA driver, a CPU or MPS device, or an NVML call the GPU does not support
each mean the figure is left out of the event (never an error, never a retry storm: a failed start-up is not
retried). Reading three counters costs microseconds and no device synchronisation.
"""
from __future__ import annotations

from typing import Any

import torch


class GpuMetrics:
    """``read(device)`` -> ``{"utilization_percent", "power_w", "temperature_c"}`` (the ones NVML answers) or None."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._failed = False
        self._handles: dict[int, Any] = {}

    def _start(self) -> Any:
        if self._nvml is None and not self._failed:
            try:
                import pynvml  # nvidia-ml-py

                pynvml.nvmlInit()
                self._nvml = pynvml
            except Exception:  # ImportError, NVMLError (no driver): figures are simply absent
                self._failed = True
        return self._nvml

    def _handle(self, nvml: Any, index: int) -> Any:
        if index not in self._handles:
            handle = None
            if torch.cuda.is_available():
                try:  # CUDA_VISIBLE_DEVICES renumbers devices; the UUID names the same GPU for NVML
                    handle = nvml.nvmlDeviceGetHandleByUUID(f"GPU-{torch.cuda.get_device_properties(index).uuid}")
                except Exception:
                    handle = None
            self._handles[index] = handle if handle is not None else nvml.nvmlDeviceGetHandleByIndex(index)
        return self._handles[index]

    def read(self, device: str) -> dict | None:
        if not device.startswith("cuda"):
            return None
        nvml = self._start()
        if nvml is None:
            return None
        index = torch.device(device).index
        try:
            handle = self._handle(nvml, index if index is not None else (torch.cuda.current_device() if torch.cuda.is_available() else 0))
        except Exception:
            return None
        out: dict[str, float] = {}
        readings = (
            ("utilization_percent", lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)),
            ("power_w", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),  # milliwatts
            ("temperature_c", lambda: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))),
        )
        for key, reading in readings:
            try:
                out[key] = reading()
            except Exception:  # not supported on this GPU (power on some boards): left out
                pass
        return out or None
