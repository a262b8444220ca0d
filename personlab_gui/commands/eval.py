"""``personlab-gui eval``: inference over a COCO ground-truth set, then COCO AP."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ..core.batch import ProgressLine, run_batch
from ..core.coco_io import detections_to_results, evaluate, load_coco, validate_coco
from ..core.errors import InputError
from ..core.image_io import safe_join
from .common import add_inference_options, engine_from_args, settings_from_args

METRICS = ("AP", "AP50", "AP75", "APm", "APl")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, nargs="+", help="COCO ground truth JSON file(s)")
    parser.add_argument("--images", required=True, nargs="+",
                        help="the image folder of each ground-truth file, in the same order")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_inference_options(parser)


def run(args: argparse.Namespace) -> int:
    if len(args.gt) != len(args.images):
        print("error: give one --images folder per --gt file", file=sys.stderr)
        return 2
    try:
        gt, paths = _load_ground_truth(args.gt, args.images)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = engine_from_args(args)
    settings = settings_from_args(args)
    progress = ProgressLine(len(paths))
    results, forward_ms, decode_ms, failures = [], [], [], []
    items = run_batch(engine, paths, settings, lambda n, item: progress.update(n, item.path.name))
    for img, item in zip(gt["images"], items):
        if item.error:
            failures.append(item.error)
            continue
        results += detections_to_results(img["id"], item.result.people)
        forward_ms.append(item.result.forward_ms)
        decode_ms.append(item.result.decode_ms)
    progress.close()
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    iou_types = ("keypoints", "segm") if {"segmentation", "long"} <= set(engine.trained_heads) else ("keypoints",)
    metrics = evaluate(gt, results, iou_types=iou_types)
    summary = {"images": len(paths) - len(failures), **{t: metrics[t] for t in iou_types},
               "forward_ms": float(np.median(forward_ms)) if forward_ms else None,
               "decode_ms": float(np.median(decode_ms)) if decode_ms else None}
    _print_table(summary, iou_types, engine.model_name, settings)
    if args.json:
        print(json.dumps(summary))
    return 1 if failures else 0


def _load_ground_truth(gt_files: list[str], image_dirs: list[str]) -> tuple[dict, list]:
    """Load and merge ground-truth files (COCO ids must not collide) and locate their images."""
    merged: dict = {"images": [], "annotations": [], "categories": []}
    paths = []
    for gt_file, image_dir in zip(gt_files, image_dirs):
        data = load_coco(gt_file)
        merged["images"] += data["images"]
        merged["annotations"] += data["annotations"]
        merged["categories"] = data["categories"]
        paths += [safe_join(image_dir, img["file_name"]) for img in data["images"]]
    validate_coco(merged, " + ".join(gt_files))
    return merged, paths


def _print_table(summary: dict, iou_types: tuple[str, ...], model: str, settings) -> None:
    print(f"model {model}  decoder {settings.decoder}  size {settings.size}  "
          f"scales {list(settings.scales)}  flip {settings.flip}  images {summary['images']}")
    print(f"{'':10}" + "".join(f"{m:>8}" for m in METRICS))
    for t in iou_types:
        print(f"{t:10}" + "".join(f"{summary[t][m]:8.3f}" for m in METRICS))
    print(f"median forward {summary['forward_ms'] or 0:.1f} ms, decode {summary['decode_ms'] or 0:.1f} ms")
