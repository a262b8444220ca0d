"""The training loop: a ``Trainer`` with detectron2-style hooks, shared by the CLI, the GUI
and ``torchrun``.

``Trainer.train`` runs ``before_train``, then per step ``before_step`` / step /
``after_step``, then ``after_train`` on every hook (the hooks are in ``hooks``). Under
``torchrun`` (env ``WORLD_SIZE`` > 1) the same code runs with DistributedDataParallel, a
``DistributedSampler``, and rank-0 logging and files.
Cancellation: a ``threading.Event`` or a flag file; the state is saved and the run ends.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler

from ..data.dataset import Augment, CocoPersonDataset, UnlabeledImages
from ..distributed import Distributed
from ..errors import InputError
from ..interrupts import deferred_interrupts
from ..model import PersonLabNet, load_checkpoint, resolve_model, save_checkpoint, select_device
from ..outputs import check_output
from ..skeleton import ALL_HEADS, EXTRA_HEADS, MODEL_HEADS
from .config import TrainConfig, TrainError, parse_train_parts
from .distill import Teachers
from .losses import distill_loss, personlab_loss
from .state import STATE_FORMAT, error_line, read_state, rng_state, set_rng_state, state_path


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
        resume_state = read_state(resume) if resume else None
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
            self.dist.finish(wait=self.stop_signal is None)
            return out
        finally:
            self.dist.finish(wait=False)   # after a failure: leave without waiting

    def _loop(self) -> str | None:
        """Steps until ``max_steps`` or a stop; a stop by a signal sets ``stop_signal``, a
        failure (unreadable data, say) is returned as one line. Either way ``cancelled``.
        The data loader (and its worker processes) ends with the loop."""
        batches = self._batches()
        try:
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
        finally:
            batches.close()

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
                "scheduler": self.scheduler.state_dict(), "rng": rng_state(),
                "metrics": dict(self.metrics), "start_metrics": dict(self.start_metrics)}

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step = int(state["step"])
            self.metrics = dict(state.get("metrics", {}))
            self.start_metrics = dict(state.get("start_metrics", {}))
            set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise TrainError(f"resume state does not fit this model/config ({error_line(exc)})") from None

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
    return error_line(exc)
