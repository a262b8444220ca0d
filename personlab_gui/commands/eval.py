"""``personlab-gui eval``: inference over a COCO ground-truth set, then COCO AP."""

from __future__ import annotations

import argparse
import json
import sys

from ..core.inference.batch import ProgressLine
from ..core.errors import InputError
from ..core.inference.evaluation import Evaluation, evaluate_engine, load_ground_truth
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
        settings = settings_from_args(args)
        gt = load_ground_truth(args.gt, args.images)
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = engine_from_args(args)
    progress = ProgressLine(len(gt.paths))
    evaluation = evaluate_engine(engine, gt, settings, lambda n, item: progress.update(n, item.path.name),
                                 batch=args.batch)
    progress.close()
    for message in evaluation.failures:
        print(f"error: {message}", file=sys.stderr)
    _print_table(evaluation, engine.model_name, engine.backend, settings)
    if args.json:
        print(json.dumps(evaluation.summary()))
    return 1 if evaluation.failures else 0


def _print_table(evaluation: Evaluation, model: str, backend: str, settings) -> None:
    print(f"model {model}  backend {backend}  decoder {settings.decoder}  size {settings.size}  "
          f"scales {list(settings.scales)}  flip {settings.flip}  images {evaluation.images}")
    print(f"{'':10}" + "".join(f"{m:>8}" for m in METRICS))
    for kind, table in evaluation.scores.items():
        print(f"{kind:10}" + "".join(f"{table[m]:8.3f}" for m in METRICS))
    print(f"median forward {evaluation.forward_ms or 0:.1f} ms, decode {evaluation.decode_ms or 0:.1f} ms")
