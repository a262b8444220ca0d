"""``personlab-gui render``: run the model on one image and render the viewer's canvas,
with the chosen layers, to a PNG — the same layer classes as the window, offscreen when
there is no display.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from ..core.inference.engine import DEFAULT_SIZE, InferenceSettings
from ..core.errors import InputError
from ..core.data.image_io import load_image
from ..core.interrupts import deferred_interrupts
from .common import check_input_side, check_out, engine_from_args, model_file

DEFAULT_LAYERS = "heatmap:all,people"
MAX_DEFAULT_SIDE = 2000
#: Largest PNG side (a canvas of 8192 x 8192 already takes 256 MB).
MAX_SIDE = 8192


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="image file")
    parser.add_argument("--layers", default=DEFAULT_LAYERS,
                        help="comma-separated layers with option values, e.g. "
                             "heatmap:nose,hough:all,mid:5,basins,people (default: %(default)s)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--size", help="PNG size WxH (default: the image's size, at most "
                                       f"{MAX_DEFAULT_SIDE} px on the long side)")
    parser.add_argument("--model", default="default", help="zoo name or checkpoint path (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:N]|mps (default: %(default)s)")
    parser.add_argument("--input-size", type=int, default=DEFAULT_SIZE,
                        help="network input long side (default: %(default)s)")


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720); ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*", text)
    if not match or not all(16 <= int(n) <= MAX_SIDE for n in match.groups()):
        raise ValueError(f"{text}: --size must be WxH, each 16..{MAX_SIDE} (e.g. 1280x720)")
    return int(match[1]), int(match[2])


def default_size(image_hw: tuple[int, int]) -> tuple[int, int]:
    h, w = image_hw
    scale = min(1.0, MAX_DEFAULT_SIDE / max(h, w))
    return round(w * scale), round(h * scale)


def run(args: argparse.Namespace) -> int:
    from ..gui.app import application
    application(offscreen_without_display=True)
    from ..gui.layer_spec import LayerSpecError, apply_spec, parse_spec
    from ..gui.layers import make_layers

    layers = make_layers()
    try:
        choices = parse_spec(args.layers, layers)
        size = parse_size(args.size) if args.size else None
        check_input_side(args.input_size, "--input-size")
        settings = InferenceSettings(size=args.input_size)
        check_out(args.out, [args.image, *model_file(args.model)])
        image = load_image(args.image)
    except (InputError, LayerSpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = engine_from_args(args)
    for choice in choices:
        if not layers[choice.key].applies_to(engine.trained_heads):
            print(f"warning: skipping layer {choice.key}: model {engine.model_name} lacks the "
                  f"{'/'.join(layers[choice.key].required_heads)} head(s)", file=sys.stderr)
    apply_spec(choices, layers)
    return _save(layers, image, engine.run(image, settings), size or default_size(image.shape[:2]), args.out)


def _write_png(pixmap, path: Path) -> bool:
    """Save ``pixmap`` as PNG atomically: a temporary file beside ``path``, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        if not pixmap.save(tmp, "PNG"):
            return False
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(tmp, path)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def _save(layers, image, result, size: tuple[int, int], out: str) -> int:
    from PySide6 import QtCore, QtWidgets

    from ..gui.canvas import Canvas

    canvas = Canvas(layers)
    canvas.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
    canvas.resize(*size)
    canvas.show()
    canvas.set_image(image)
    canvas.set_result(result)
    canvas.fit()
    QtWidgets.QApplication.processEvents()
    with deferred_interrupts():
        if not _write_png(canvas.grab(), Path(out)):
            print(f"error: {out}: cannot write the PNG", file=sys.stderr)
            return 2
    print(f"wrote {out} ({size[0]}x{size[1]}, {result.num_people} people)")
    return 0
