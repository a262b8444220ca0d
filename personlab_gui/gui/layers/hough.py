"""Hough score maps h_k with their local-maximum keypoint candidates marked.

Candidates (``result.candidates``, network-input pixels) are drawn as rings sized by
score; the inspector reports the candidate under the cursor with its score.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.decoding.result import InferenceResult
from ...core.skeleton import KEYPOINT_NAMES, NMS_RADIUS
from .base import ProbeRows, keypoint_index
from .scalar_map import KeypointMapLayer

CANDIDATE_PEN = pg.mkPen(60, 230, 255, 230, width=1.5)


class HoughLayer(KeypointMapLayer):
    """h_k for one keypoint type or the max over types, plus that choice's candidates."""

    key, name, shortcut, z, symbol = "hough", "Hough score h_k + candidates", "O", 11, "h_k"
    colormaps = ("viridis", "inferno", "magma", "plasma", "turbo", "cividis")

    def _make_items(self) -> list:
        self.candidates_item = pg.ScatterPlotItem(symbol="o", pen=CANDIDATE_PEN, brush=None,
                                                  pxMode=True)
        return [*super()._make_items(), self.candidates_item]

    def stack(self, result: InferenceResult) -> np.ndarray:
        return result.hough

    def levels(self, values: np.ndarray) -> tuple[float, float]:
        return 0.0, max(float(values.max()), 1e-6)

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) rows x, y, score in image pixels and their (n,) keypoint types."""
        k = keypoint_index(self.option("keypoint"))
        kinds = range(len(KEYPOINT_NAMES)) if k is None else [k]
        rows = [self.result.candidates[i] for i in kinds]
        types = np.concatenate([np.full(len(r), i) for i, r in zip(kinds, rows)]).astype(int)
        points = np.concatenate([np.reshape(r, (-1, 3)) for r in rows]).astype(np.float64)
        points[:, :2] = self.result.transform.to_image(points[:, :2])
        return points, types

    def _draw(self, result: InferenceResult) -> None:
        super()._draw(result)
        points, _ = self.candidates()
        top = max(float(points[:, 2].max()), 1e-6) if len(points) else 1.0
        self.candidates_item.setData(x=points[:, 0], y=points[:, 1],
                                     size=6 + 10 * np.clip(points[:, 2] / top, 0, 1))

    def _clear(self) -> None:
        super()._clear()
        self.candidates_item.clear()

    def probe(self, xy: np.ndarray) -> ProbeRows:
        rows = super().probe(xy)
        points, types = self.candidates()
        if not len(points):
            return rows
        distance = np.hypot(*(points[:, :2] - xy).T)
        best = int(np.argmin(distance))
        radius = NMS_RADIUS / float(self.result.transform.scale_xy.min())
        if distance[best] <= radius:
            x, y, score = points[best]
            rows.append((f"candidate {KEYPOINT_NAMES[types[best]]}", f"{score:.3f} at ({x:.0f}, {y:.0f})"))
        return rows
