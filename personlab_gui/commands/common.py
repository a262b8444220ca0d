"""Options shared by the commands that run inference (model, device, size, TTA, decoder)."""

from __future__ import annotations

import argparse
import sys

from ..core.engine import DECODERS, DEFAULT_SIZE, MASK_ASSIGNMENTS, Engine, InferenceSettings


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("inference")
    g.add_argument("--model", default="default", help="zoo name or checkpoint path (default: %(default)s)")
    g.add_argument("--device", default="auto", help="auto|cpu|cuda[:N]|mps (default: %(default)s)")
    g.add_argument("--size", type=int, default=DEFAULT_SIZE, help="network input long side (default: %(default)s)")
    g.add_argument("--scales", type=float, nargs="+", default=[1.0], help="test-time scales, e.g. 0.75 1 1.5")
    g.add_argument("--flip", action="store_true", help="also run the mirrored image (test-time flip)")
    g.add_argument("--decoder", choices=DECODERS, default="personlab")
    g.add_argument("--min-score", type=float, default=0.0,
                   help="drop people whose instance score is below this (default: %(default)s)")
    g.add_argument("--mask-assignment", choices=MASK_ASSIGNMENTS, default="embedding",
                   help="pixel -> person rule for masks: PersonLab's embedding, or the "
                        "skeleton / bodypix baselines (default: %(default)s)")


def settings_from_args(args: argparse.Namespace) -> InferenceSettings:
    return InferenceSettings(size=args.size, scales=tuple(args.scales), flip=args.flip,
                             decoder=args.decoder, mask_assignment=args.mask_assignment,
                             min_instance_score=args.min_score)


def engine_from_args(args: argparse.Namespace) -> Engine:
    """Load the engine; errors become one line on stderr and ``SystemExit(2)``."""
    from ..core.model import CheckpointError
    try:
        return Engine(args.model, args.device)
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
