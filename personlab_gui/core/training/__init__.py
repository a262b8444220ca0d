"""Training: the run's settings (``config``), the hooked loop (``trainer``) and its hooks
(``hooks``: logging, resumable checkpoints, validation), the resume-state file (``state``),
the losses (``losses``), distillation from teacher models (``distill``), and ``run.train``,
which puts them together for the CLI and the GUI."""

from .config import TrainConfig, TrainError, parse_train_parts
from .hooks import CheckpointHook, EvalHook, LoggingHook, default_hooks
from .run import is_main_process, train
from .state import read_resume_config, state_path
from .trainer import HookBase, Trainer

__all__ = [
    "CheckpointHook", "EvalHook", "HookBase", "LoggingHook", "TrainConfig", "TrainError", "Trainer",
    "default_hooks", "is_main_process", "parse_train_parts", "read_resume_config", "state_path", "train",
]
