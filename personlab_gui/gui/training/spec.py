"""What the training tab describes, as data: a ``TrainingSpec`` and the command lines it
turns into (the GUI's own child process, and the copyable CLI for one machine or a
torchrun cluster). No Qt here.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ...core.training.distill import TeacherSpec
from ...core.training.losses import LossWeights
from ...core.model import CheckpointError, read_checkpoint_info, resolve_model
from ...core.skeleton import ALL_HEADS

#: Options only the GUI's child process gets (progress for the tab, Stop, dense curves).
GUI_OPTIONS = ("--progress-json", "--log-every", "1")
MASTER_PORT = 29500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class DataSource:
    """A COCO JSON and the folder its ``file_name``s are relative to."""

    coco_json: str
    images: str


@dataclass(frozen=True)
class TrainingSpec:
    """Every setting of one run; ``train`` / ``val`` are filled in once the data is exported."""

    name: str
    init_model: str = "default"
    train_parts: str = "heads"                  # heads | heads+N | all
    heads: tuple[str, ...] = ALL_HEADS
    size: int = 321
    length: tuple[str, int] = ("steps", 150)    # ("steps" | "epochs", count)
    batch: int = 4
    lr: float = 1e-3
    schedule: str = "cosine"
    loss_weights: LossWeights = LossWeights()
    device: str = "auto"
    workers: int = 2
    seed: int = 0
    eval_every: int = 25
    checkpoint_every: int = 50
    teachers: tuple[str, ...] = ()              # distillation: "HEADS=MODEL" each
    unlabeled: tuple[str, ...] = ()             # image folders trained through the teachers only
    gt_weight: float = 0.5                      # with teachers: weight of the ground-truth loss
    train: tuple[DataSource, ...] = ()
    val: DataSource | None = None

    def check(self) -> None:
        """ValueError (one line) for settings the trainer would refuse."""
        if not _NAME.match(self.name):
            raise ValueError(f"model name {self.name!r}: use letters, digits, '_', '-' or '.'")
        if (self.size - 1) % 16 or self.size < 129:
            raise ValueError(f"input size {self.size} must be 16n + 1 (e.g. 257, 321, 401)")
        if not self.heads:
            raise ValueError("choose at least one head to train")
        if self.unlabeled and not self.teachers:
            raise ValueError("unlabeled images train only through teachers: add a teacher")
        for teacher in self.teachers:
            check_teacher(teacher)

    def args(self, out: Path) -> list[str]:
        """The ``train`` command's options for this run, writing ``out``."""
        args: list[str] = []
        if self.train:
            args += ["--train", *(s.coco_json for s in self.train), "--images", *(s.images for s in self.train)]
        if self.unlabeled:
            args += ["--unlabeled", *self.unlabeled]
        if self.val is not None:
            args += ["--val", self.val.coco_json, "--val-images", self.val.images, "--eval-at-start"]
        return args + self._model_args(out) + self._distill_args() + self._optimisation_args()

    def _model_args(self, out: Path) -> list[str]:
        return ["--out", str(out), "--init", self.init_model, "--train-parts", self.train_parts,
                "--heads", ",".join(self.heads)]

    def _distill_args(self) -> list[str]:
        if not self.teachers:
            return []
        return [*(arg for teacher in self.teachers for arg in ("--teacher", teacher)),
                "--gt-weight", f"{self.gt_weight:g}"]

    def _optimisation_args(self) -> list[str]:
        kind, count = self.length
        weights = ",".join(f"{k}={v:g}" for k, v in self.loss_weights.as_dict().items())
        return [
            f"--{kind}", str(count), "--batch", str(self.batch), "--lr", f"{self.lr:g}",
            "--schedule", self.schedule, "--size", str(self.size),
            "--loss-weights", weights, "--device", self.device, "--workers", str(self.workers),
            "--seed", str(self.seed), "--eval-every", str(self.eval_every),
            "--checkpoint-every", str(self.checkpoint_every)]


def check_teacher(text: str) -> None:
    """ValueError (one line) unless ``text`` is ``HEADS=MODEL`` with a readable model that
    has every one of these heads trained."""
    teacher = TeacherSpec.parse(text)
    try:
        trained = read_checkpoint_info(resolve_model(teacher.model))["trained_heads"]
    except CheckpointError as exc:
        raise ValueError(f"teacher {exc}") from None
    missing = [head for head in teacher.heads if head not in trained]
    if missing:
        raise ValueError(f"teacher {teacher.model} has no trained {', '.join(missing)} head "
                         f"(it has {', '.join(trained)})")


def process_argv(args: list[str], cancel_file: Path) -> list[str]:
    """The GUI's child process: ``python -m personlab_gui train ARGS`` plus its plumbing."""
    return [sys.executable, "-m", "personlab_gui", "train", *args, *GUI_OPTIONS,
            "--cancel-file", str(cancel_file)]


def resume_args(state: Path) -> list[str]:
    """Options that continue a stopped run from its resume state (stored settings)."""
    return ["--resume", str(state)]


def shell_command(args: list[str], procs: int = 1, nodes: int = 1) -> str:
    """The copyable command: ``personlab-gui train`` on one process, else torchrun with
    ``procs`` processes on each of ``nodes`` machines (node rank and master address from
    the environment variables NODE_RANK and MASTER_ADDR, so one line serves every node)."""
    train = shlex.join(args)
    if procs == 1 and nodes == 1:
        return f"personlab-gui train {train}"
    if nodes == 1:
        return f"torchrun --standalone --nproc_per_node {procs} -m personlab_gui train {train}"
    return (f"torchrun --nproc_per_node {procs} --nnodes {nodes} --node_rank $NODE_RANK "
            f"--master_addr $MASTER_ADDR --master_port {MASTER_PORT} -m personlab_gui train {train}")
