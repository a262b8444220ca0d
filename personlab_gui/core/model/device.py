"""Compute device selection from a user string: auto | cpu | cuda | cuda:N | mps."""

from __future__ import annotations

import torch

_USAGE = "use auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_device(spec: str) -> torch.device:
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"{spec}: not a device name; {_USAGE}") from None
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = device.index or 0
    if index >= count:
        raise ValueError(f"{spec}: not available ({count} CUDA device(s) visible)")
    return device


def select_device(spec: str = "auto") -> torch.device:
    """The torch device for ``spec``; ValueError (one line) if it is unknown or unavailable."""
    spec = spec.strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise ValueError("mps: not available on this machine")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        return _cuda_device(spec)
    raise ValueError(f"{spec}: unknown device; {_USAGE}")
