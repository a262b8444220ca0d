"""One call that trains: a ``Trainer`` with the default hooks (what the CLI and the GUI's
training process run)."""

from __future__ import annotations

import threading
from pathlib import Path

from ..distributed import Distributed
from .config import TrainConfig
from .hooks import EvaluateFn, default_hooks
from .trainer import HookBase, Trainer


def train(config: TrainConfig, resume: str | Path | None = None,
          cancel: threading.Event | None = None, evaluate_fn: EvaluateFn | None = None,
          extra_hooks: list[HookBase] | None = None, progress_json: bool = False) -> Trainer:
    """Run a full training with the default hooks; returns the finished ``Trainer``
    (``step``, ``cancelled``, ``metrics``; the model is at ``config.out``)."""
    trainer = Trainer(config, cancel=cancel, resume=resume)
    hooks = default_hooks(config, evaluate_fn, trainer.trained_heads, progress_json)
    trainer.register_hooks(hooks + (extra_hooks or []))
    trainer.train()
    return trainer


def is_main_process() -> bool:
    """True outside torchrun and on its rank 0."""
    return Distributed.from_env().is_main
