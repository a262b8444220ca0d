"""The resumable training state file: where it lives, reading it back, the random number
generators' state inside it, and one-line descriptions of what went wrong."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import first_line
from .config import TrainConfig, TrainError

STATE_FORMAT = "personlab-gui-train-state/1"


def state_path(out: str | Path) -> Path:
    """Where the resumable training state of a run writing ``out`` lives."""
    return Path(f"{out}.resume")


def read_resume_config(path: str | Path) -> TrainConfig:
    """The ``TrainConfig`` stored in a resume state."""
    state = read_state(path)
    try:
        return TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainError(f"{path}: bad config in resume state ({error_line(exc)})") from None


def read_state(path: str | Path) -> dict[str, Any]:
    """The state saved at ``path``; ``TrainError`` (one line) when it is not one."""
    path = Path(path)
    try:
        found = path.is_file()
    except (OSError, ValueError) as exc:
        problem = getattr(exc, "strerror", None) or exc
        raise TrainError(f"{path}: cannot read the resume state ({problem})") from None
    if not found:
        raise TrainError(f"{path}: no such resume state")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise TrainError(f"{path}: not a readable resume state ({error_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainError(f"{path}: not a {STATE_FORMAT} file (to fine-tune a model use --init)")
    return state


def rng_state() -> dict[str, Any]:
    """torch, CUDA, numpy and Python generator states, as tensors and plain values."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
            "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))


def error_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception's message (its type name when it has none)."""
    return f"{type(exc).__name__}: {first_line(exc, 160)}" if str(exc).strip() else type(exc).__name__
