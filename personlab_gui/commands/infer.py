"""``personlab-gui infer``: run the model on images or folders and write COCO JSON."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.batch import BatchItem, ProgressLine, run_batch
from ..core.coco_io import detections_to_dataset, detections_to_results, write_json_atomic
from ..core.errors import InputError
from ..core.image_io import list_images
from .common import add_inference_options, engine_from_args, settings_from_args


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images and/or folders of images")
    parser.add_argument("--out", required=True, help="output COCO JSON file")
    parser.add_argument("--format", choices=("results", "dataset"), default="results",
                        help="results: COCO detection results; dataset: full COCO dataset (pseudo-labels)")
    add_inference_options(parser)


def _image_root(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([p.resolve().parent for p in paths]))


def run(args: argparse.Namespace) -> int:
    try:
        paths = list_images(args.paths)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print("error: no images found in " + ", ".join(args.paths), file=sys.stderr)
        return 2
    engine = engine_from_args(args)
    settings = settings_from_args(args)
    progress = ProgressLine(len(paths))
    done: list[BatchItem] = []

    def report(n: int, item: BatchItem) -> None:
        label = item.path.name + (f" {len(item.result.people)} people" if item.result else " failed")
        progress.update(n, label)

    interrupted = False
    try:
        for item in run_batch(engine, paths, settings, report):
            done.append(item)
    except KeyboardInterrupt:
        interrupted = True
    progress.close()
    failures = [item.error for item in done if item.error]
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    write_json_atomic(args.out, _output(done, args.format, _image_root(paths)))
    print(f"wrote {args.out}: {sum(len(i.result.people) for i in done if i.result)} people "
          f"in {len(done) - len(failures)} images" + (" (interrupted)" if interrupted else ""),
          file=sys.stderr)
    return 130 if interrupted else (1 if failures else 0)


def _output(items: list[BatchItem], fmt: str, root: Path) -> dict | list:
    ok = [(image_id, item) for image_id, item in enumerate(items, start=1) if item.result]
    if fmt == "results":
        return [r for image_id, item in ok for r in detections_to_results(image_id, item.result.people)]
    images = [{"id": image_id, "file_name": item.path.resolve().relative_to(root).as_posix(),
               "height": item.result.image_hw[0], "width": item.result.image_hw[1]}
              for image_id, item in ok]
    return detections_to_dataset(images, [item.result.people for _, item in ok])
