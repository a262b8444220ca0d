"""``personlab-gui train``: train or fine-tune a model on COCO data (also under torchrun).

With ``--resume STATE`` the run continues from a saved training state with its stored
settings; options given on the command line override them (e.g. ``--steps`` to go on).
With ``--progress-json`` every progress line, the final "saved" line and an error are one
JSON object each (``event``: start, step, eval, saved, error), for programs such as the GUI.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..core.skeleton import ALL_HEADS
from ..core.errors import first_line

if TYPE_CHECKING:
    from ..core.training import TrainConfig, Trainer

#: command-line option -> TrainConfig field
_FIELDS = {
    "train": "train_json", "images": "train_images", "val": "val_json",
    "val_images": "val_images", "out": "out", "init": "init_model",
    "train_parts": "train_parts", "heads": "heads", "epochs": "epochs", "steps": "max_steps",
    "batch": "batch_size", "lr": "lr", "schedule": "schedule", "weight_decay": "weight_decay",
    "size": "input_size", "device": "device", "seed": "seed", "workers": "num_workers",
    "log_every": "log_every", "checkpoint_every": "checkpoint_every",
    "eval_every": "eval_every", "cancel_file": "cancel_file", "augment": "augment",
    "eval_at_start": "eval_at_start", "loss_weights": "loss_weights",
    "teacher": "teachers", "unlabeled": "unlabeled", "gt_weight": "gt_weight", "scale": "scale",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``train``; every default is None so a resume can tell what was given."""
    data = parser.add_argument_group("data")
    data.add_argument("--train", nargs="+", metavar="GT.json",
                      help="training COCO keypoints/masks JSON(s); several train together")
    data.add_argument("--images", nargs="+", metavar="DIR",
                      help="training images folder(s), one per --train file, same order")
    data.add_argument("--unlabeled", action="extend", nargs="+", metavar="DIR",
                      help="folder(s) of images without ground truth, trained through --teacher only")
    data.add_argument("--val", metavar="GT.json", help="validation COCO JSON (AP during training)")
    data.add_argument("--val-images", metavar="DIR", help="validation images folder")
    model = parser.add_argument_group("model")
    model.add_argument("--out", metavar="PATH.pt", help="final checkpoint, e.g. model_zoo/NAME.pt")
    model.add_argument("--init", metavar="MODEL",
                       help="starting model: zoo name or checkpoint (default: default; none: from scratch)")
    model.add_argument("--train-parts", metavar="PARTS",
                       help="heads | heads+N (and the last N backbone blocks) | all (default: heads)")
    model.add_argument("--heads", type=_heads, metavar="LIST",
                       help=f"comma-separated heads to train (default: {','.join(ALL_HEADS)})")
    model.add_argument("--teacher", action="append", metavar="HEADS=MODEL",
                       help="distil these heads from a frozen model, e.g. heatmap,short,mid=posenet_mnv1_075 "
                            "(repeatable; a head of two teachers learns their mean; its heads train)")
    model.add_argument("--gt-weight", type=float, metavar="W",
                       help="with --teacher: weight of the ground-truth loss next to the teachers' (default 0.5)")
    model.add_argument("--resume", metavar="STATE", help="continue from a training state (<out>.resume)")
    run = parser.add_argument_group("optimisation")
    length = run.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N")
    length.add_argument("--steps", type=int, metavar="N")
    run.add_argument("--batch", type=int, metavar="N", help="images per step and process (default 8)")
    run.add_argument("--lr", type=float, help="peak learning rate (default 1e-3)")
    run.add_argument("--schedule", choices=("cosine", "step"))
    run.add_argument("--weight-decay", type=float)
    run.add_argument("--size", type=int, metavar="S", help="square input side, 16n+1 (default 401)")
    run.add_argument("--scale", type=_scale, metavar="LO,HI",
                     help="random factor on --size for the image's long side (default 0.75,1.25; "
                          "above 1: crops of a larger image)")
    run.add_argument("--no-augment", dest="augment", action="store_const", const=False)
    run.add_argument("--seed", type=int)
    run.add_argument("--loss-weights", type=_loss_weights, metavar="HEAD=W,...",
                     help="loss weight per head, e.g. heatmap=4,short=1 (others keep their defaults)")
    system = parser.add_argument_group("system")
    system.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    system.add_argument("--workers", type=int, metavar="N", help="data loader processes (default 2)")
    system.add_argument("--log-every", type=int, metavar="STEPS")
    system.add_argument("--checkpoint-every", type=int, metavar="STEPS")
    system.add_argument("--eval-every", type=int, metavar="STEPS")
    system.add_argument("--eval-at-start", action="store_const", const=True,
                        help="validate the starting model first (the baseline of the AP curves)")
    system.add_argument("--cancel-file", metavar="PATH", help="stop (and save) when this file appears")
    system.add_argument("--progress-json", action="store_true",
                        help="progress, result and errors as one JSON object per line")


def _heads(text: str) -> tuple[str, ...]:
    heads = tuple(h.strip() for h in text.split(",") if h.strip())
    unknown = [h for h in heads if h not in ALL_HEADS]
    if unknown or not heads:
        raise argparse.ArgumentTypeError(f"unknown heads {unknown}; choose from {', '.join(ALL_HEADS)}")
    return heads


def _scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use LO,HI, e.g. 0.75,1.25") from None
    return low, high


def _loss_weights(text: str) -> dict[str, float]:
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        head, _, value = item.partition("=")
        try:
            weights[head.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: use HEAD=WEIGHT") from None
    unknown = sorted(set(weights) - set(ALL_HEADS))
    if unknown or not weights or min(weights.values()) < 0:
        raise argparse.ArgumentTypeError(f"give non-negative weights of {', '.join(ALL_HEADS)}")
    return weights


def _given(args: argparse.Namespace) -> dict:
    """TrainConfig fields set on the command line."""
    values = {field: getattr(args, name) for name, field in _FIELDS.items()
              if getattr(args, name) is not None}
    if values.get("init_model") == "none":
        values["init_model"] = None
    if "epochs" in values:
        values["max_steps"] = None
    return values


def run(args: argparse.Namespace) -> int:
    """Train; one-line error and exit status 2 on bad input or when memory runs out."""
    from ..core.inference.batch import out_of_memory
    from ..core.errors import InputError
    from ..core.interrupts import Terminated
    from ..core.model import CheckpointError
    from ..core.training import TrainConfig, TrainError, is_main_process, read_resume_config, train

    try:
        if args.resume:
            config = TrainConfig.from_dict({**read_resume_config(args.resume).to_dict(), **_given(args)})
        else:
            required = ("out",) if args.unlabeled else ("train", "images", "out")
            missing = [f"--{name}" for name in required if getattr(args, name) is None]
            if missing:
                raise ValueError(f"missing {', '.join(missing)} (or give --resume)")
            config = TrainConfig.from_dict(_given(args))
        trainer = train(config, resume=args.resume, progress_json=args.progress_json)
    except (TrainError, CheckpointError, InputError, ValueError, OSError) as exc:
        _error(args, first_line(exc))
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        _error(args, "out of memory: lower --batch or --size, or train fewer backbone blocks")
        return 2
    if is_main_process():
        _report_saved(args, config, trainer)
    if trainer.stop_signal is not None:
        return 143 if isinstance(trainer.stop_signal, Terminated) else 130
    return 0


def _report_saved(args: argparse.Namespace, config: TrainConfig, trainer: Trainer) -> None:
    from ..core.training import state_path
    if args.progress_json:
        print(json.dumps({"event": "saved", "path": str(config.out), "step": trainer.step,
                          "max_steps": trainer.max_steps, "cancelled": trainer.cancelled,
                          "resume": str(state_path(config.out)), "metrics": trainer.metrics}))
    else:
        ended = "cancelled at" if trainer.cancelled else "after"
        print(f"saved {config.out} {ended} step {trainer.step}/{trainer.max_steps}; "
              f"resume state {state_path(config.out)}")


def _error(args: argparse.Namespace, message: str) -> None:
    if args.progress_json:
        print(json.dumps({"event": "error", "message": message}), file=sys.stderr, flush=True)
    else:
        print(f"personlab-gui train: error: {message}", file=sys.stderr)
