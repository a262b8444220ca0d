"""Canvas layers: one small class per visual layer kind, all with the ``Layer`` interface."""

from __future__ import annotations

from .base import Layer, Option
from .basins import BasinsLayer
from .hough import HoughLayer
from .image import ImageLayer
from .masks import MasksLayer
from .parts import PartsLayer
from .people import PeopleLayer
from .probe import ProbeLayer
from .scalar_map import HeatmapLayer, SegmentationLayer
from .trace import TraceLayer
from .vector_field import LongRangeLayer, MidRangeLayer, ShortRangeLayer

#: Panel order, top to bottom (canvas stacking is each class's ``z``).
LAYER_CLASSES: tuple[type[Layer], ...] = (
    ImageLayer, HeatmapLayer, HoughLayer, SegmentationLayer, BasinsLayer, PartsLayer, MasksLayer,
    ShortRangeLayer, MidRangeLayer, LongRangeLayer, PeopleLayer, ProbeLayer, TraceLayer,
)


def make_layers() -> dict[str, Layer]:
    """A fresh instance of every layer, by key, in panel order."""
    return {cls.key: cls() for cls in LAYER_CLASSES}


__all__ = ["LAYER_CLASSES", "Layer", "Option", "make_layers"]
