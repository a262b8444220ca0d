"""The clicked pixel's vectors: its geometric embedding (17 arrows x -> x + L_k(x)) when
long-range offsets exist, otherwise its short-range and mid-range offsets.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.decoding.result import InferenceResult
from ..probing import embedding, grid_cell, pixel_vectors
from .arrows import arrows_item, clear_arrows, set_arrows
from .base import Layer

#: Arrow head length in screen pixels.
HEAD_PX = 9.0


class ProbeLayer(Layer):
    """Arrows from the clicked pixel; the inspector lists the numbers."""

    key, name, shortcut, z = "probe", "Clicked pixel vectors", "E", 50
    default_visible = True

    def __init__(self) -> None:
        self.point: np.ndarray | None = None
        self._pixel_size = 1.0
        super().__init__()

    def _make_items(self) -> list:
        self.arrows = arrows_item((255, 255, 255), width=2.0)
        self.markers = pg.ScatterPlotItem(pxMode=True, size=7, pen=pg.mkPen("k"),
                                          brush=pg.mkBrush(255, 255, 255, 230))
        return [self.arrows, self.markers]

    def set_point(self, xy: np.ndarray | None) -> None:
        """Probe image pixel ``xy`` (None: nothing)."""
        self.point = None if xy is None else np.asarray(xy, dtype=np.float64)
        self.refresh()

    def view_changed(self, pixel_size: float, view: np.ndarray) -> None:
        zoomed = pixel_size != self._pixel_size
        self._pixel_size = pixel_size
        if zoomed and self.point is not None:   # arrow heads keep their screen size
            self.refresh()

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and self.point is not None and grid_cell(result, self.point) is not None

    def arrows_from_point(self, result: InferenceResult) -> tuple[np.ndarray, np.ndarray]:
        """(origin (2,), tips (n, 2)) in image pixels: the embedding of the point's grid
        cell, or else the offsets at the point."""
        found = embedding(result, self.point)
        if found is not None:
            return found
        return self.point, self.point + np.array([v for _, v in pixel_vectors(result, self.point)])

    def _draw(self, result: InferenceResult) -> None:
        origin, tips = self.arrows_from_point(result)
        set_arrows(self.arrows, np.broadcast_to(origin, tips.shape), tips, HEAD_PX * self._pixel_size)
        self.markers.setData(pos=origin[None])

    def _clear(self) -> None:
        clear_arrows(self.arrows)
        self.markers.clear()
