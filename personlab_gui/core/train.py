"""The training loop: a ``Trainer`` with detectron2-style hooks, shared by the CLI, the GUI
and ``torchrun``.

``Trainer.train`` runs ``before_train``, then per step ``before_step`` / step /
``after_step``, then ``after_train`` on every hook. Hooks here: ``LoggingHook`` (progress
on stderr: text lines, or one JSON object per event for programs such as the GUI),
``CheckpointHook`` (periodic resumable training state) and ``EvalHook`` (validation AP,
optionally of the starting model too, as a baseline). Under ``torchrun`` (env
``WORLD_SIZE`` > 1) the same code runs with DistributedDataParallel, a
``DistributedSampler``, and rank-0 logging and files.
Cancellation: a ``threading.Event`` or a flag file; the state is saved and the run ends.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler

from .data import Augment, CocoPersonDataset, UnlabeledImages
from .distill import Teachers, TeacherSpec
from .distributed import Distributed
from .errors import InputError
from .interrupts import deferred_interrupts
from .losses import LossWeights, distill_loss, personlab_loss
from .model import PersonLabNet, load_checkpoint, resolve_model, save_checkpoint, select_device
from .model.checkpoint import atomic_torch_save
from .outputs import check_output
from .skeleton import ALL_HEADS, EXTRA_HEADS, MODEL_HEADS

STATE_FORMAT = "personlab-gui-train-state/1"
SCHEDULES = ("cosine", "step")
#: ``evaluate_fn(model) -> {metric name: value}``, e.g. {"keypoints/AP": 0.41}.
EvaluateFn = Callable[[nn.Module], dict[str, float]]


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


def state_path(out: str | Path) -> Path:
    """Where the resumable training state of a run writing ``out`` lives."""
    return Path(f"{out}.resume")


class HookBase:
    """A training hook; ``trainer`` is set when the hook is registered."""

    trainer: Trainer

    def before_train(self) -> None: ...

    def before_step(self) -> None: ...

    def after_step(self) -> None: ...

    def after_train(self) -> None: ...


class Trainer:
    """Builds model, data and optimizer from a ``TrainConfig`` and runs the hooked loop."""

    def __init__(self, config: TrainConfig, hooks: list[HookBase] | None = None,
                 cancel: threading.Event | None = None, resume: str | Path | None = None) -> None:
        self.config = config
        self.cancel = cancel or threading.Event()
        self.dist = Distributed.from_env()
        self.step = 0
        self.losses: dict[str, float] = {}
        self.metrics: dict[str, float] = {}
        self.start_metrics: dict[str, float] = {}   # the starting model's (eval_at_start)
        self.cancelled = False
        self.stop_signal: KeyboardInterrupt | None = None   # Ctrl-C / SIGTERM that ended the run
        resume_state = _read_state(resume) if resume else None
        self._check_cancel_file(resume)
        self._setup_process()
        self._build_model()
        self._build_data()
        if self.dist.is_main:
            self._check_outputs(resume)
        self._build_optimizer()
        if resume_state:
            self._restore(resume_state)
        self.hooks: list[HookBase] = []
        self.register_hooks(hooks or [])

    # ---- set-up -------------------------------------------------------------------------
    def _check_cancel_file(self, resume: str | Path | None) -> None:
        """A cancel file left from an earlier stop would end this run at once: say so."""
        cancel = self.config.cancel_file
        if cancel and Path(cancel).exists():
            action = "resume" if resume else "train"
            raise TrainError(f"{cancel}: the cancel file exists already (left by an earlier stop?); "
                             f"delete it to {action}")

    def _check_outputs(self, resume: str | Path | None) -> None:
        """The model and the resume state may replace neither an input nor a project,
        folder or device (replacing an older model is said on stderr); the resume state
        being continued is replaced by design."""
        cfg = self.config
        inputs = [*cfg.train_json, *filter(None, [cfg.val_json, resume, self.init_info["path"]]),
                  *(path for part in self.dataset.datasets for path in part.paths)]
        out, state = Path(cfg.out), state_path(cfg.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if check_output(out, inputs, option="--out"):
            print(f"note: {out} exists and will be replaced", file=sys.stderr, flush=True)
        check_output(state, [p for p in inputs if not (resume and _same_file(p, resume))],
                     option="--out (its resume state)")

    def _setup_process(self) -> None:
        self.device = self.dist.join(select_device(self.config.device))
        torch.manual_seed(self.config.seed)

    def _build_model(self) -> None:
        cfg = self.config
        if cfg.init_model is None:
            model, self.init_info = PersonLabNet(cfg.backbone), {"path": None, "trained_heads": []}
        else:
            model, self.init_info = load_checkpoint(resolve_model(cfg.init_model))
        model = _with_heads(model, cfg.heads)
        _set_trainable(model, cfg.heads, parse_train_parts(cfg.train_parts))
        self.model = model.to(self.device).train()
        self.trained_heads = sorted(set(self.init_info["trained_heads"]) | set(cfg.heads),
                                    key=MODEL_HEADS.index)
        self.weights = cfg.loss_weights.only([h for h in cfg.heads if h in ALL_HEADS])
        self.teachers = Teachers(cfg.teacher_specs(), self.device) if cfg.teachers else None
        self.net: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)

    def _build_data(self) -> None:
        cfg = self.config
        parts, augment = [], Augment(scale=cfg.scale)
        for gt_json, image_dir in zip(cfg.train_json, cfg.train_images, strict=True):
            part = CocoPersonDataset(gt_json, image_dir, cfg.input_size, train=cfg.augment,
                                     augment=augment, seed=cfg.seed, stride=self.model.output_stride)
            if len(part) == 0:
                raise TrainError(f"{gt_json}: no training images")
            parts.append(part)
        for folder in cfg.unlabeled:
            part = UnlabeledImages(folder, cfg.input_size, train=cfg.augment, augment=augment,
                                   seed=cfg.seed, stride=self.model.output_stride)
            if len(part) == 0:
                raise TrainError(f"{folder}: no images")
            parts.append(part)
        self.dataset = TrainingSets(parts)
        self.sampler = DistributedSampler(self.dataset, self.dist.world_size, self.dist.rank,
                                          shuffle=True, seed=cfg.seed)
        self.steps_per_epoch = math.ceil(len(self.sampler) / cfg.batch_size)
        self.max_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch

    def _build_optimizer(self) -> None:
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(cfg.schedule, self.max_steps))

    def register_hooks(self, hooks: list[HookBase]) -> None:
        for hook in hooks:
            hook.trainer = self
            self.hooks.append(hook)

    # ---- the loop -----------------------------------------------------------------------
    def train(self) -> Path:
        """Train to ``max_steps`` (or until cancelled); returns the final model path."""
        out = Path(self.config.out)
        try:
            for hook in self.hooks:
                hook.before_train()
            failure = self._loop()
            with deferred_interrupts():
                for hook in self.hooks:
                    hook.after_train()
                if self.dist.is_main:
                    save_checkpoint(out, self.model, self.trained_heads, self.final_meta())
            if failure is not None:
                raise TrainError(f"training stopped at step {self.step}: {failure}; the model and "
                                 f"the resume state {state_path(out)} are saved")
            if self.dist.enabled and self.stop_signal is None:
                dist.barrier()
            return out
        finally:
            if self.dist.enabled and dist.is_initialized():
                dist.destroy_process_group()

    def _loop(self) -> str | None:
        """Steps until ``max_steps`` or a stop; a stop by a signal sets ``stop_signal``, a
        failure (unreadable data, say) is returned as one line. Either way ``cancelled``."""
        try:
            batches = self._batches()
            while self.step < self.max_steps and not self._should_stop():
                for hook in self.hooks:
                    hook.before_step()
                images, targets = next(batches)
                with deferred_interrupts():  # a step is applied whole, or not at all
                    self.run_step(images, targets)
                    self.step += 1
                for hook in self.hooks:
                    hook.after_step()
            return None
        except KeyboardInterrupt as exc:
            self.stop_signal, self.cancelled = exc, True
            return None
        except (InputError, MemoryError, RuntimeError, OSError, ValueError) as exc:
            self.cancelled = True
            return _worker_error(exc)

    def run_step(self, images: torch.Tensor, targets: dict[str, torch.Tensor]) -> None:
        """One optimisation step on a batch; sets ``self.losses`` (this rank's values)."""
        images = images.to(self.device, non_blocking=True)
        targets = {k: v.to(self.device, non_blocking=True) for k, v in targets.items()}
        total, per_head = self._loss(images, targets)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.losses = {"total": float(total.detach()), **{k: float(v) for k, v in per_head.items()}}

    def _loss(self, images: torch.Tensor, targets: dict[str, torch.Tensor]
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The ground-truth loss; with teachers, their loss plus ``gt_weight`` times it
        (the teachers' per-head losses are named ``distill/HEAD``)."""
        outputs = self.net(images)
        has_gt = any(w > 0 for w in self.weights.as_dict().values())
        total, per_head = (personlab_loss(outputs, targets, self.weights)
                           if has_gt or self.teachers is None else (0.0, {}))
        if self.teachers is None:
            return total, per_head
        taught, taught_heads = distill_loss(outputs, self.teachers.targets(images), self.config.loss_weights)
        return (taught + self.config.gt_weight * total,
                {**per_head, **{f"distill/{k}": v for k, v in taught_heads.items()}})

    def _batches(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """Batches from the current step on, epoch after epoch (exact on resume)."""
        batch = self.config.batch_size
        while True:
            epoch, skip = divmod(self.step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch)
            self.dataset.set_epoch(epoch)
            indices = list(self.sampler)
            batches = [indices[i:i + batch] for i in range(0, len(indices), batch)][skip:]
            yield from DataLoader(self.dataset, batch_sampler=batches,
                                  num_workers=self.config.num_workers,
                                  pin_memory=self.device.type == "cuda")

    def _should_stop(self) -> bool:
        local = self.cancel.is_set() or bool(
            self.config.cancel_file and Path(self.config.cancel_file).exists())
        if self.dist.enabled:
            flag = torch.tensor([float(local)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            local = bool(flag.item())
        self.cancelled = local
        return local

    # ---- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs."""
        return {"format": STATE_FORMAT, "config": self.config.to_dict(), "step": self.step,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": _rng_state(),
                "metrics": dict(self.metrics), "start_metrics": dict(self.start_metrics)}

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step = int(state["step"])
            self.metrics = dict(state.get("metrics", {}))
            self.start_metrics = dict(state.get("start_metrics", {}))
            _set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise TrainError(f"resume state does not fit this model/config ({_first_line(exc)})") from None

    def final_meta(self) -> dict[str, Any]:
        """Metadata of the final checkpoint."""
        cfg = self.config
        return {"parent": self.init_info["path"],
                "train_data": [list(pair) for pair in zip(cfg.train_json, cfg.train_images)],
                "val_data": [cfg.val_json, cfg.val_images], "settings": cfg.to_dict(),
                "trained_this_run": list(cfg.heads), "steps": self.step,
                "max_steps": self.max_steps, "world_size": self.dist.world_size,
                "cancelled": self.cancelled, "metrics": dict(self.metrics),
                "start_metrics": dict(self.start_metrics),
                "losses": dict(self.losses), "date": _dt.datetime.now().isoformat(timespec="seconds")}


class TrainingSets(ConcatDataset):
    """Several ``CocoPersonDataset`` as one (indices run through them in order).

    Each set keeps its own annotation semantics: people without keypoints (e.g. a
    masks-only set) train segmentation only; long-range targets exist only on the masks of
    people with keypoints, so such images add no long-range loss (weight 0), never a
    target of 0. Every set draws its augmentation from (seed, epoch, index in the set).
    """

    datasets: list[CocoPersonDataset]

    def set_epoch(self, epoch: int) -> None:
        for dataset in self.datasets:
            dataset.set_epoch(epoch)


# ---- hooks --------------------------------------------------------------------------------
class LoggingHook(HookBase):
    """Progress on stderr every ``every`` steps (rank 0): the losses averaged since the
    last report, learning rate, images/s (over the steps' own time: data and compute,
    not validation or checkpoints) and ETA. A text line each, or with ``json_lines``
    one JSON object per event: "start" (step, max_steps, images, metrics so far), then
    "step" (step, max_steps, losses, lr, images_per_s, elapsed_s, eta_s)."""

    def __init__(self, every: int = 10, stream=None, json_lines: bool = False) -> None:
        self.every = max(1, every)
        self.stream = stream or sys.stderr
        self.json_lines = json_lines

    def before_train(self) -> None:
        t = self.trainer
        self._start_step, self._start = t.step, time.perf_counter()
        self._last_step, self._busy = self._start_step, 0.0
        self._sums: dict[str, float] = {}
        if self.json_lines and t.dist.is_main:
            _emit({"event": "start", "step": t.step, "max_steps": t.max_steps,
                   "images": len(t.dataset), "batch_size": t.config.batch_size,
                   "world_size": t.dist.world_size, "device": str(t.device),
                   "metrics": t.metrics, "start_metrics": t.start_metrics}, self.stream)

    def before_step(self) -> None:
        self._step_start = time.perf_counter()

    def after_step(self) -> None:
        t = self.trainer
        if not t.dist.is_main:
            return
        self._busy += time.perf_counter() - self._step_start
        for name, value in t.losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        if t.step % self.every == 0 or t.step == t.max_steps:
            now, steps = time.perf_counter(), t.step - self._last_step
            per_step = (now - self._start) / max(t.step - self._start_step, 1)
            record = {"event": "step", "step": t.step, "max_steps": t.max_steps,
                      "losses": {name: total / steps for name, total in self._sums.items()},
                      "lr": t.scheduler.get_last_lr()[0],
                      "images_per_s": steps * t.config.batch_size * t.dist.world_size / max(self._busy, 1e-9),
                      "elapsed_s": now - self._start, "eta_s": per_step * (t.max_steps - t.step)}
            if self.json_lines:
                _emit(record, self.stream)
            else:
                print(_step_text(record), file=self.stream, flush=True)
            self._last_step, self._busy, self._sums = t.step, 0.0, {}


def _step_text(record: dict[str, Any]) -> str:
    """A "step" event as the text progress line."""
    mean = record["losses"]
    heads = " ".join(f"{k} {v:.4f}" for k, v in mean.items() if k != "total")
    eta = _dt.timedelta(seconds=round(record["eta_s"]))
    return (f"step {record['step']}/{record['max_steps']}  loss {mean['total']:.4f} ({heads})  "
            f"lr {record['lr']:.2e}  {record['images_per_s']:.1f} img/s  ETA {eta}")


def _emit(record: dict[str, Any], stream) -> None:
    """One progress event as a JSON line."""
    print(json.dumps(record), file=stream, flush=True)


class CheckpointHook(HookBase):
    """Writes the resumable training state atomically (rank 0) every ``every`` steps and at
    the end (also when cancelled)."""

    def __init__(self, every: int = 0, path: str | Path | None = None) -> None:
        self.every = every
        self.path = path

    def _save(self) -> None:
        t = self.trainer
        if t.dist.is_main:
            path = Path(self.path or state_path(t.config.out))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(t.state_dict(), path)

    def after_step(self) -> None:
        if self.every and self.trainer.step % self.every == 0 and self.trainer.step < self.trainer.max_steps:
            self._save()

    def after_train(self) -> None:
        self._save()


class EvalHook(HookBase):
    """Validation metrics every ``every`` steps and at the end, computed on rank 0 and
    stored in ``trainer.metrics`` (saved in the model's meta). With ``at_start``, a fresh
    run first validates the starting model (``trainer.start_metrics``, the baseline).
    Reported as a text line, or with ``json_lines`` as a JSON "eval" event
    (step, start, metrics)."""

    def __init__(self, evaluate_fn: EvaluateFn, every: int = 0, stream=None,
                 at_start: bool = False, json_lines: bool = False) -> None:
        self.evaluate_fn = evaluate_fn
        self.every = every
        self.stream = stream or sys.stderr
        self.at_start = at_start
        self.json_lines = json_lines

    def _evaluate(self, start: bool = False) -> None:
        t = self.trainer
        if t.dist.is_main:
            t.model.eval()
            with torch.inference_mode():
                metrics = {k: float(v) for k, v in self.evaluate_fn(t.model).items()}
            t.model.train()
            if start:
                t.start_metrics = metrics
            else:
                t.metrics = metrics
            if self.json_lines:
                _emit({"event": "eval", "step": t.step, "start": start, "metrics": metrics}, self.stream)
            else:
                text = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                where = "of the starting model" if start else f"at step {t.step}"
                print(f"eval {where}: {text}", file=self.stream, flush=True)
        if t.dist.enabled:
            dist.barrier()

    def before_train(self) -> None:
        if self.at_start and self.trainer.step == 0:
            self._evaluate(start=True)

    def after_step(self) -> None:
        t = self.trainer
        if self.every and t.step % self.every == 0 and t.step < t.max_steps:
            self._evaluate()

    def after_train(self) -> None:
        if not self.trainer.cancelled:
            self._evaluate()


def engine_evaluate_fn(config: TrainConfig, heads: list[str]) -> EvaluateFn | None:
    """``evaluation.evaluate_model`` on the validation set, or None when there is none.

    Missing validation images are refused now (they would bias AP); an image that fails
    to load is reported once, on stderr.
    """
    if not (config.val_json and config.val_images):
        return None
    from .evaluation import evaluate_model, load_ground_truth, missing_images
    gt = load_ground_truth([config.val_json], [config.val_images])
    missing = missing_images(gt)
    if missing:
        raise InputError(missing[0], f"validation image not found ({len(missing)} of "
                                     f"{len(gt.paths)} missing; AP would be biased)")
    iou_types = ("keypoints", "segm") if {"segmentation", "long"} <= set(heads) else ("keypoints",)
    reported: set[str] = set()

    def evaluate(model: nn.Module) -> dict[str, float]:
        evaluation = evaluate_model(model, gt, iou_types=iou_types)
        for message in sorted(set(evaluation.failures) - reported):
            print(f"warning: validation image skipped (scored as missed): {message}",
                  file=sys.stderr, flush=True)
        reported.update(evaluation.failures)
        return {f"{kind}/{name}": value for kind, table in evaluation.scores.items()
                for name, value in table.items()}
    return evaluate


def default_hooks(config: TrainConfig, evaluate_fn: EvaluateFn | None = None,
                  trained_heads: list[str] | None = None, progress_json: bool = False) -> list[HookBase]:
    """Logging, checkpointing and (with a validation set and an evaluator) evaluation;
    ``progress_json``: progress as JSON lines."""
    hooks: list[HookBase] = [LoggingHook(config.log_every, json_lines=progress_json)]
    evaluate_fn = evaluate_fn or engine_evaluate_fn(config, trained_heads or list(config.heads))
    if evaluate_fn is not None:
        hooks.append(EvalHook(evaluate_fn, config.eval_every, at_start=config.eval_at_start,
                              json_lines=progress_json))
    return hooks + [CheckpointHook(config.checkpoint_every)]


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


def read_resume_config(path: str | Path) -> TrainConfig:
    """The ``TrainConfig`` stored in a resume state."""
    state = _read_state(path)
    try:
        return TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainError(f"{path}: bad config in resume state ({_first_line(exc)})") from None


# ---- helpers ------------------------------------------------------------------------------
def _with_heads(model: PersonLabNet, heads: tuple[str, ...]) -> PersonLabNet:
    """``model``, or a copy with the extra heads of ``heads`` it lacks added (fresh init)."""
    extra = set(model.extra_heads) | (set(heads) & set(EXTRA_HEADS))
    if extra == set(model.extra_heads):
        return model
    grown = PersonLabNet(model.backbone_name, extra)
    grown.load_state_dict(model.state_dict(), strict=False)   # all but the new heads
    return grown


def _set_trainable(model: PersonLabNet, heads: tuple[str, ...], backbone_blocks: int | None) -> None:
    """Freeze everything, then unfreeze the chosen heads and backbone part (None: all)."""
    model.requires_grad_(False)
    for name in heads:
        model.heads[name].requires_grad_(True)
    if backbone_blocks is None:
        model.backbone.requires_grad_(True)
    elif backbone_blocks:
        blocks = getattr(model.backbone, "blocks", None)
        if not isinstance(blocks, nn.Sequential) or backbone_blocks > len(blocks):
            available = len(blocks) if isinstance(blocks, nn.Sequential) else 0
            raise TrainError(f"heads+{backbone_blocks}: backbone has {available} trainable blocks")
        blocks[-backbone_blocks:].requires_grad_(True)


def _schedule(kind: str, max_steps: int) -> Callable[[int], float]:
    """Learning-rate factor per step: cosine to 0, or x0.1 at 2/3 and again at 8/9."""
    if kind == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, max_steps) / max_steps))
    return lambda step: 0.1 ** ((step >= 2 * max_steps / 3) + (step >= 8 * max_steps / 9))


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
            "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__


def _read_state(path: str | Path) -> dict[str, Any]:
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
        raise TrainError(f"{path}: not a readable resume state ({_first_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainError(f"{path}: not a {STATE_FORMAT} file (to fine-tune a model use --init)")
    return state


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _worker_error(exc: BaseException) -> str:
    """One line for an error raised in the loop; from a DataLoader worker, torch wraps the
    original traceback, whose last line is the original error."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if "DataLoader worker" in (lines[0] if lines else ""):
        return lines[-1].split(": ", 1)[-1]
    return _first_line(exc)
