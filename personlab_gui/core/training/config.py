"""What a training run depends on: ``TrainConfig`` (validated, stored in resume states and
model meta), the train-parts syntax, and ``TrainError``."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..data.dataset import Augment
from ..skeleton import ALL_HEADS, EXTRA_HEADS, MODEL_HEADS
from .distill import TeacherSpec
from .losses import LossWeights

SCHEDULES = ("cosine", "step")


class TrainError(Exception):
    """Training cannot start or go on; the message is one line."""


#: (field, lowest, highest) of the integer settings; None values are not checked.
_INT_BOUNDS = (
    ("epochs", 1, 1_000_000), ("max_steps", 1, 100_000_000), ("batch_size", 1, 1024),
    ("input_size", 33, 2049), ("seed", 0, 2**32 - 1), ("num_workers", 0, 256),
    ("log_every", 1, 100_000_000), ("checkpoint_every", 0, 100_000_000),
    ("eval_every", 0, 100_000_000),
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in resume states and model meta).

    ``train_json`` / ``train_images``: one COCO JSON and its images folder, or several of
    each (same order); a single string is accepted and stored as a one-element tuple.
    ``teachers``: ``HEADS=MODEL`` strings (``distill.TeacherSpec``); their heads train too
    (distillation), ``unlabeled`` image folders train through them only, and the
    ground-truth loss counts ``gt_weight`` times next to the teachers' loss.
    """

    train_json: str | tuple[str, ...]
    train_images: str | tuple[str, ...]
    out: str
    val_json: str | None = None
    val_images: str | None = None
    init_model: str | None = "default"      # zoo name or checkpoint path; None: from scratch
    backbone: str = "mobilenet_v1_075"      # only used when init_model is None
    train_parts: str = "heads"              # "heads" | "heads+N" (last N backbone blocks) | "all"
    heads: tuple[str, ...] = ALL_HEADS      # heads whose layers and losses train
    epochs: int | None = None
    max_steps: int | None = None            # overrides epochs
    batch_size: int = 8
    lr: float = 1e-3
    schedule: str = "cosine"                # cosine | step (x0.1 at 2/3 and 8/9 of the steps)
    weight_decay: float = 1e-4
    input_size: int = 401
    loss_weights: LossWeights = LossWeights()
    augment: bool = True
    scale: tuple[float, float] = Augment.scale   # random factor on the input size for the long side
    device: str = "auto"
    seed: int = 0
    num_workers: int = 2
    log_every: int = 10
    checkpoint_every: int = 0               # steps between resume states (0: only at the end)
    eval_every: int = 0                     # steps between validations (0: only at the end)
    eval_at_start: bool = False             # also validate the starting model (a baseline)
    cancel_file: str | None = None          # training stops when this file exists
    teachers: tuple[str, ...] = ()          # distillation: "HEADS=MODEL" each
    unlabeled: tuple[str, ...] = ()         # image folders without ground truth (need teachers)
    gt_weight: float = 0.5                  # with teachers: weight of the ground-truth loss

    def __post_init__(self) -> None:
        for name in ("train_json", "train_images", "teachers", "unlabeled"):
            value = getattr(self, name)
            paths = (value,) if isinstance(value, (str, os.PathLike)) else tuple(value)
            object.__setattr__(self, name, tuple(str(p) for p in paths))
        if len(self.train_json) != len(self.train_images):
            raise ValueError(f"give one training images folder per training JSON "
                             f"({len(self.train_json)} JSON, {len(self.train_images)} folders)")
        if not self.train_json and not self.unlabeled:
            raise ValueError("give training data (a COCO JSON and its images, or unlabeled images)")
        if self.unlabeled and not self.teachers:
            raise ValueError("unlabeled images train only through teachers: give --teacher")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")
        taught = {h for spec in self.teacher_specs() for h in spec.heads}
        heads = set(self.heads) | taught
        if not self.heads or not heads <= set(MODEL_HEADS) or (heads & set(EXTRA_HEADS)) - taught:
            raise ValueError(f"heads must be a non-empty subset of {', '.join(ALL_HEADS)} "
                             f"({', '.join(EXTRA_HEADS)} only from a teacher)")
        object.__setattr__(self, "heads", tuple(h for h in MODEL_HEADS if h in heads))
        if (self.max_steps or 0) < 1 and (self.epochs or 0) < 1:
            raise ValueError("give a positive number of epochs or steps")
        if bool(self.val_json) != bool(self.val_images):
            raise ValueError("validation needs both a COCO JSON and its images folder")
        self._check_bounds()
        parse_train_parts(self.train_parts)

    def _check_bounds(self) -> None:
        """Numbers within sane limits (the upper ones set by memory); ValueError otherwise."""
        for name, low, high in _INT_BOUNDS:
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name.replace('_', ' ')} {value}: must be between {low} and {high}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise ValueError(f"learning rate {self.lr}: must be in (0, 10]")
        if not (math.isfinite(self.weight_decay) and 0 <= self.weight_decay <= 10):
            raise ValueError(f"weight decay {self.weight_decay}: must be in [0, 10]")
        low, high = self.scale
        if not (math.isfinite(low) and math.isfinite(high) and 0.05 <= low <= high <= 20):
            raise ValueError(f"scale {low}..{high}: need 0.05 <= low <= high <= 20")
        if not (math.isfinite(self.gt_weight) and 0 <= self.gt_weight <= 1e6):
            raise ValueError(f"ground-truth weight {self.gt_weight}: must be in [0, 1e6]")
        weights = asdict(self.loss_weights).values()
        if not all(math.isfinite(w) and 0 <= w <= 1e6 for w in weights):
            raise ValueError("loss weights must be finite numbers in [0, 1e6]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def teacher_specs(self) -> list[TeacherSpec]:
        """The parsed ``teachers`` (ValueError on a bad one)."""
        return [TeacherSpec.parse(text) for text in self.teachers]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["heads"] = tuple(values.get("heads", ALL_HEADS))
        for name in ("train_json", "train_images", "teachers", "unlabeled"):
            values.setdefault(name, ())   # __post_init__ makes tuples (of a lone string too)
        values["scale"] = tuple(values.get("scale", Augment.scale))
        values["loss_weights"] = LossWeights(**values.get("loss_weights", {}))
        return cls(**values)


def parse_train_parts(spec: str) -> int | None:
    """'heads' -> 0, 'heads+N' -> N backbone blocks, 'all' -> None; else ValueError."""
    if spec == "all":
        return None
    if spec == "heads":
        return 0
    prefix, _, count = spec.partition("+")
    if prefix == "heads" and count.isdigit() and int(count) > 0:
        return int(count)
    raise ValueError(f"train parts {spec!r}: use heads, heads+N (N >= 1) or all")
