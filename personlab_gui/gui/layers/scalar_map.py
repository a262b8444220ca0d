"""Scalar maps on the field grid (keypoint heatmaps p_k, segmentation p_S) as one ImageItem.

The map is drawn through ``levels`` and a lookup table whose alpha rises with the value,
so the photo shows through low values; a ``QTransform`` puts grid cells on image pixels.
"""

from __future__ import annotations

import numpy as np

from ...core.decoding.result import InferenceResult
from ...core.skeleton import KEYPOINT_NAMES
from ..probing import grid_cell
from .base import (COLORMAPS, KEYPOINT_CHOICES, Layer, Option, ProbeRows, grid_transform,
                   keypoint_index, lookup_table)
from .image_item import FastImageItem


class ScalarMapLayer(Layer):
    """A (h, w) map on the field grid; subclasses say which map and its value range."""

    colormaps = COLORMAPS
    default_opacity = 0.7
    symbol: str = ""

    def _make_items(self) -> list:
        self.image_item = FastImageItem()
        return [self.image_item]

    def scalar_map(self, result: InferenceResult) -> np.ndarray:
        """The (h, w) map to show."""
        raise NotImplementedError

    def levels(self, values: np.ndarray) -> tuple[float, float]:
        return 0.0, 1.0

    def _draw(self, result: InferenceResult) -> None:
        values = self.scalar_map(result)
        self.image_item.setImage(values, levels=self.levels(values), lut=lookup_table(self.colormap),
                                 autoLevels=False)
        self.image_item.setTransform(grid_transform(result))

    def _clear(self) -> None:
        self.image_item.clear()

    def probe(self, xy: np.ndarray) -> ProbeRows:
        cell = grid_cell(self.result, xy)
        if cell is None:
            return []
        return [(self.probe_label(), f"{self.scalar_map(self.result)[cell]:.3f}")]

    def probe_label(self) -> str:
        return self.symbol


class KeypointMapLayer(ScalarMapLayer):
    """A per-keypoint-type stack (K, h, w): one type, or the max over types."""

    def _make_options(self) -> list[Option]:
        return [Option("keypoint", KEYPOINT_CHOICES, KEYPOINT_CHOICES.index("nose"))]

    def stack(self, result: InferenceResult) -> np.ndarray:
        raise NotImplementedError

    def scalar_map(self, result: InferenceResult) -> np.ndarray:
        k = keypoint_index(self.option("keypoint"))
        stack = self.stack(result)
        return stack.max(axis=0) if k is None else stack[k]

    def probe(self, xy: np.ndarray) -> ProbeRows:
        cell = grid_cell(self.result, xy)
        if cell is None:
            return []
        values = self.stack(self.result)[:, cell[0], cell[1]]
        k = keypoint_index(self.option("keypoint"))
        if k is None:
            k = int(np.argmax(values))
            return [(f"{self.symbol} max", f"{values[k]:.3f} ({KEYPOINT_NAMES[k]})")]
        return [(f"{self.symbol} {KEYPOINT_NAMES[k]}", f"{values[k]:.3f}")]


class HeatmapLayer(KeypointMapLayer):
    """Keypoint heatmap p_k: probability that a keypoint of type k lies within R."""

    key, name, shortcut, z, symbol = "heatmap", "Keypoint heatmap p_k", "H", 10, "p_k"
    default_visible = True

    def stack(self, result: InferenceResult) -> np.ndarray:
        return result.heatmaps


class SegmentationLayer(ScalarMapLayer):
    """Person segmentation p_S (only when the segmentation head is trained)."""

    key, name, shortcut, z, symbol = "segmentation", "Segmentation p_S", "G", 5, "p_S"
    colormaps = ("viridis", *[c for c in COLORMAPS if c != "viridis"])
    required_heads = ("segmentation",)

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and result.segmentation is not None

    def scalar_map(self, result: InferenceResult) -> np.ndarray:
        return result.segmentation
