"""Options shared by the commands that run inference (model, device, size, TTA, decoder),
their bounds, and the output-path check."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from pathlib import Path

from ..core.inference.engine import DECODERS, DEFAULT_SIZE, MASK_ASSIGNMENTS, Engine, InferenceSettings
from ..core.model.runner import BACKEND_HELP, BACKENDS
from ..core.outputs import check_output

#: Smallest and largest network input side (after the test-time scale): past the upper
#: bound one image's network pass and fields take several GB.
MIN_INPUT_SIDE, MAX_INPUT_SIDE = 33, 4097
MAX_BATCH = 256


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("inference")
    g.add_argument("--model", default="default", help="zoo name or checkpoint path (default: %(default)s)")
    g.add_argument("--device", default="auto", help="auto|cpu|cuda[:N]|mps (default: %(default)s)")
    g.add_argument("--backend", choices=BACKENDS, default="float",
                   help=f"{BACKEND_HELP} (default: %(default)s)")
    g.add_argument("--batch", type=int, default=1,
                   help=f"images per network call, 1..{MAX_BATCH} (padded to a common size; same "
                        "results; worth it on a GPU) (default: %(default)s)")
    g.add_argument("--size", type=int, default=DEFAULT_SIZE,
                   help=f"network input long side, {MIN_INPUT_SIDE}..{MAX_INPUT_SIDE} (default: %(default)s)")
    g.add_argument("--scales", type=float, nargs="+", default=[1.0],
                   help=f"test-time scales, e.g. 0.75 1 1.5 (size x scale within "
                        f"{MIN_INPUT_SIDE}..{MAX_INPUT_SIDE})")
    g.add_argument("--flip", action="store_true", help="also run the mirrored image (test-time flip)")
    g.add_argument("--decoder", choices=DECODERS, default="personlab")
    g.add_argument("--min-score", type=float, default=0.0,
                   help="drop people whose instance score (0..1) is below this (default: %(default)s)")
    g.add_argument("--mask-assignment", choices=MASK_ASSIGNMENTS, default="embedding",
                   help="pixel -> person rule for masks: PersonLab's embedding, or the "
                        "skeleton / bodypix baselines (default: %(default)s)")
    g.add_argument("--long-refine-steps", type=int, metavar="N",
                   help="long-range self-refinement steps for masks (default: the model's own)")


def check_input_side(size: int, option: str = "--size") -> None:
    """``ValueError`` (one line) unless ``size`` is a usable network input side."""
    if not MIN_INPUT_SIDE <= size <= MAX_INPUT_SIDE:
        raise ValueError(f"{option} {size}: must be between {MIN_INPUT_SIDE} and {MAX_INPUT_SIDE}")


def settings_from_args(args: argparse.Namespace) -> InferenceSettings:
    """The inference settings of the command line; ``ValueError`` (one line) out of bounds."""
    check_input_side(args.size)
    for scale in args.scales:
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"--scales {scale}: scales must be positive numbers")
        side = round(args.size * scale)
        if not MIN_INPUT_SIDE <= side <= MAX_INPUT_SIDE:
            raise ValueError(f"--scales {scale:g}: input side {args.size} x {scale:g} = {side} px is outside "
                             f"{MIN_INPUT_SIDE}..{MAX_INPUT_SIDE} (memory)")
    if not 1 <= args.batch <= MAX_BATCH:
        raise ValueError(f"--batch {args.batch}: must be between 1 and {MAX_BATCH}")
    if not 0.0 <= args.min_score <= 1.0:  # also refuses nan
        raise ValueError(f"--min-score {args.min_score}: must be between 0 and 1")
    return InferenceSettings(size=args.size, scales=tuple(args.scales), flip=args.flip,
                             decoder=args.decoder, mask_assignment=args.mask_assignment,
                             min_instance_score=args.min_score,
                             long_refine_steps=args.long_refine_steps)


def model_file(model: str | None) -> list[Path]:
    """The checkpoint file ``--model``/``--init`` names, as an input to protect (none when
    it does not resolve: loading it reports that)."""
    from ..core.model import CheckpointError, resolve_model
    try:
        return [resolve_model(model)] if model and model != "none" else []
    except CheckpointError:
        return []


def check_out(out: str, inputs: Iterable[str | Path], option: str = "--out", quiet: bool = False) -> None:
    """``check_output``, saying on stderr (unless ``quiet``) when an existing file will be replaced."""
    if check_output(out, inputs, option=option) and not quiet:
        print(f"note: {out} exists and will be replaced", file=sys.stderr)


def engine_from_args(args: argparse.Namespace, device: str | None = None) -> Engine:
    """Load the engine (on ``device`` rather than ``--device`` when given); errors become
    one line on stderr and ``SystemExit(2)``."""
    from ..core.model import CheckpointError
    try:
        return Engine(args.model, str(device or args.device), getattr(args, "backend", "float"))  # render: float
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
