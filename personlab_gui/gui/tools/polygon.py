"""The polygon tool: click the corners of an area, then close it (click the first corner,
double-click, or Enter) to add the area to the selected person's mask. Backspace drops
the last corner.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from ...core.data.boxes import around
from ..commands import PaintMask
from .base import Tool


class PolygonTool(Tool):
    """Corners so far, drawn with a rubber band to the mouse."""

    key, name, shortcut = "polygon", "Polygon", "U"
    hint = "Polygon: click corners; click the first one, double-click or Enter to fill it into the mask."

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.corners: list[np.ndarray] = []
        self.outline = QtWidgets.QGraphicsPathItem()
        self.outline.setPen(pg.mkPen(255, 255, 255, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine))
        ctx.add_preview(self.outline)

    def reset(self) -> None:
        self.corners = []
        self._draw(None)

    def click(self, xy: np.ndarray, double: bool) -> bool:
        closing = len(self.corners) >= 3 and (
            double or np.hypot(*(xy - self.corners[0])) <= self.ctx.pick_radius)
        if closing:
            self.finish()
        elif not double:
            self.corners.append(xy)
            self._draw(xy)
        return True

    def hover(self, xy: np.ndarray | None) -> None:
        self._draw(xy)

    def back(self) -> None:
        if self.corners:
            self.corners.pop()
            self._draw(None)

    def finish(self) -> None:
        corners = np.array(self.corners)
        self.reset()
        person = self.ctx.selected_person()
        if person is None or len(corners) < 3:
            return
        doc = self.ctx.doc
        box = around(corners, 1, doc.image_hw)
        if box is None:
            return
        crop = doc.mask_crop(person, box).astype(np.uint8)
        cv2.fillPoly(crop, [np.rint(corners - box[:2]).astype(np.int32)], 1)
        self.ctx.stack.push(PaintMask(doc, person, box, crop.astype(bool), "Polygon"))

    def _draw(self, mouse: np.ndarray | None) -> None:
        path = QtGui.QPainterPath()
        points = self.corners + ([mouse] if mouse is not None and self.corners else [])
        for i, (x, y) in enumerate(points):
            path.moveTo(x, y) if i == 0 else path.lineTo(x, y)
        self.outline.setPath(path)
