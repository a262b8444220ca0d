"""The training loop's hooks: ``LoggingHook`` (progress on stderr: text lines, or one JSON
object per event for programs such as the GUI), ``CheckpointHook`` (periodic resumable
training state) and ``EvalHook`` (validation AP, optionally of the starting model too, as
a baseline), and the default set of them."""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from ..errors import InputError
from ..model.checkpoint import atomic_torch_save
from .config import TrainConfig
from .state import state_path
from .trainer import HookBase

#: ``evaluate_fn(model) -> {metric name: value}``, e.g. {"keypoints/AP": 0.41}.
EvaluateFn = Callable[[nn.Module], dict[str, float]]


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
    from ..inference.evaluation import evaluate_model, iou_types_for, load_ground_truth, missing_images
    gt = load_ground_truth([config.val_json], [config.val_images])
    missing = missing_images(gt)
    if missing:
        raise InputError(missing[0], f"validation image not found ({len(missing)} of "
                                     f"{len(gt.paths)} missing; AP would be biased)")
    iou_types = iou_types_for(heads)
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
