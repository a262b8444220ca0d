"""``personlab-gui infer``: run the model on images or folders and write COCO JSON."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..core.inference.batch import BatchItem, ProgressLine, run_batch
from ..core.data.coco_write import detections_to_dataset, detections_to_results, write_json_atomic
from ..core.errors import InputError, first_line
from ..core.data.image_io import list_images, printable
from ..core.interrupts import Terminated, deferred_interrupts
from ..core.decoding.jit import print_progress
from ..core.data.pseudo_labels import DEFAULT_LABEL_THRESHOLD
from ..core.distributed import Distributed
from ..core.model import select_device
from ..core.decoding.result import Person
from .common import add_inference_options, check_out, engine_from_args, model_file, settings_from_args


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images and/or folders of images")
    parser.add_argument("--out", required=True, help="output COCO JSON file")
    parser.add_argument("--format", choices=("results", "dataset"), default="results",
                        help="results: COCO detection results (every person); dataset: full COCO dataset "
                             "of pseudo-labels (complete, deduplicated people scoring >= --label-threshold)")
    parser.add_argument("--label-threshold", type=float, default=DEFAULT_LABEL_THRESHOLD,
                        help="dataset: instance score (0..1) a person needs to become a label (default: %(default)s)")
    add_inference_options(parser)


def _image_root(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([os.path.dirname(os.path.realpath(p)) for p in paths]))


def _file_name(path: Path, root: Path) -> str:
    """The dataset's ``file_name`` of ``path``: relative to ``root``, valid UTF-8 text."""
    name = Path(os.path.realpath(path)).relative_to(root).as_posix()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(printable(path), "file name is not valid UTF-8, so it cannot be a COCO "
                                          "file_name; rename the file") from None
    return name


def run(args: argparse.Namespace) -> int:
    world = Distributed.from_env()
    try:
        settings = settings_from_args(args)
        if not 0.0 <= args.label_threshold <= 1.0:  # also refuses nan
            raise ValueError(f"--label-threshold {args.label_threshold}: must be between 0 and 1")
        paths = list_images(args.paths)
        if not paths:
            raise InputError(", ".join(args.paths), "no images found")
        check_out(args.out, [*paths, *model_file(args.model)], quiet=not world.is_main)
        device = world.join(select_device(args.device))
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = engine_from_args(args, device)
    engine.warm_up(settings, print_progress if world.is_main else None)  # compiles on a first run
    root = _image_root(paths)
    unnamed = _unnamable(paths, root) if args.format == "dataset" else []
    paths = [path for path in paths if path not in {item.path for item in unnamed}]
    mine = list(world.shard(len(paths)))
    progress = ProgressLine(len(paths), None if world.is_main else open(os.devnull, "w"))
    done: list[tuple[int, BatchItem]] = []

    def report(n: int, item: BatchItem) -> None:  # an image counts as done once reported
        done.append((mine[n - 1], _detections(item)))
        label = item.path.name + (f" {len(item.result.people)} people" if item.result else " failed")
        progress.update(world.count_done() if world.enabled else n, label)

    stop: BaseException | None = None
    try:
        for _ in run_batch(engine, [paths[i] for i in mine], settings, report, batch=args.batch):
            pass
    except (KeyboardInterrupt, Exception) as exc:  # whatever ends the run, what finished is written
        stop = exc
    with deferred_interrupts():
        items, stops = world.gather(done), world.gather([(world.rank, _stop_line(stop, len(done), world))])
        status = _finish(args, [*unnamed, *items], root, stop, stops, progress) if world.is_main else 0
        world.finish()
    return status if world.is_main else _status(stop, [item for _, item in done])


def _detections(item: BatchItem) -> BatchItem:
    """The item with only what the output needs (people, image size): light to gather."""
    if item.result is None:
        return item
    return BatchItem(item.path, result=Detections(item.result.people, item.result.image_hw))


@dataclass
class Detections:
    """The people of one image and its (height, width)."""

    people: list[Person]
    image_hw: tuple[int, int]


def _stop_line(stop: BaseException | None, done: int, world: Distributed) -> str | None:
    """How a failure (not a stop signal) ended this process's run, in one line."""
    if stop is None or isinstance(stop, KeyboardInterrupt):
        return None
    where = f"rank {world.rank} " if world.enabled else ""
    return f"{where}stopped after {done} images: {type(stop).__name__}: {first_line(stop)}"


def _status(stop: BaseException | None, items: list[BatchItem]) -> int:
    """The exit status of a run that ended with ``stop`` and processed ``items``."""
    if isinstance(stop, KeyboardInterrupt):
        return 143 if isinstance(stop, Terminated) else 130
    return 1 if stop is not None or any(item.error for item in items) else 0


def _unnamable(paths: list[Path], root: Path) -> list[BatchItem]:
    """Error items for the files whose name cannot be a dataset's file_name."""
    items = []
    for path in paths:
        try:
            _file_name(path, root)
        except InputError as exc:
            items.append(BatchItem(path, error=str(exc)))
    return items


def _finish(args: argparse.Namespace, done: list[BatchItem], root: Path, stop: BaseException | None,
            stops: list[str | None], progress: ProgressLine) -> int:
    """Write what finished (every process's) and say how the run ended; the exit status."""
    progress.close()
    failures = [item.error for item in done if item.error]
    for message in failures + [line for line in stops if line]:
        print(f"error: {message}", file=sys.stderr)
    try:
        output = _output(done, args.format, root, args.label_threshold)
        write_json_atomic(args.out, output)
    except (InputError, OSError) as exc:
        print(f"error: {args.out}: cannot write the results ({first_line(exc)})", file=sys.stderr)
        return 1
    ended = {Terminated: " (terminated)", KeyboardInterrupt: " (interrupted)"}.get(type(stop), "")
    print(f"wrote {args.out}: {len(output if isinstance(output, list) else output['annotations'])} people "
          f"in {len(done) - len(failures)} images{ended}", file=sys.stderr)
    return 1 if any(stops) and not isinstance(stop, KeyboardInterrupt) else _status(stop, done)


def _output(items: list[BatchItem], fmt: str, root: Path, label_threshold: float) -> dict | list:
    ok = [(image_id, item) for image_id, item in enumerate(items, start=1) if item.result]
    if fmt == "results":
        return [r for image_id, item in ok for r in detections_to_results(image_id, item.result.people)]
    images = [{"id": image_id, "file_name": _file_name(item.path, root),
               "height": item.result.image_hw[0], "width": item.result.image_hw[1]}
              for image_id, item in ok]
    return detections_to_dataset(images, [item.result.people for _, item in ok], label_threshold)
