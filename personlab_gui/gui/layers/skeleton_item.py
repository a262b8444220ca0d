"""One graphics item drawing every person's skeleton links and score label.

pyqtgraph items paint from Python, so dozens of per-person curves and text items cost
more per frame than the lines themselves; this item draws all groups of segments (one
pen each) and all labels (fixed screen size) in a single paint call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

LABEL_FONT_PX = 12
LABEL_PAD = 3


@dataclass
class SegmentGroup:
    """Segments (n, 4) as x0, y0, x1, y1 in item coordinates, drawn with one pen."""

    pen: QtGui.QPen
    segments: np.ndarray


@dataclass
class Label:
    """Text centred above ``pos`` (item coordinates) on a coloured box."""

    pos: tuple[float, float]
    text: str
    fill: QtGui.QColor


class SkeletonItem(pg.GraphicsObject):
    """Batched segments and labels."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[tuple[QtGui.QPen, list[QtCore.QLineF]]] = []
        self._labels: list[Label] = []
        self._bounds = QtCore.QRectF()
        self._font = QtGui.QFont()
        self._font.setPixelSize(LABEL_FONT_PX)
        self._font.setBold(True)

    def set_data(self, groups: list[SegmentGroup], labels: list[Label]) -> None:
        self.prepareGeometryChange()
        self._lines = [(g.pen, [QtCore.QLineF(*s) for s in g.segments.tolist()]) for g in groups]
        self._labels = labels
        points = np.concatenate([g.segments.reshape(-1, 2) for g in groups] + [np.zeros((0, 2))])
        points = np.concatenate([points, np.array([l.pos for l in labels]).reshape(-1, 2)])
        if len(points):
            (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
            self._bounds = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
        else:
            self._bounds = QtCore.QRectF()
        self.update()

    @property
    def segment_count(self) -> int:
        return sum(len(lines) for _, lines in self._lines)

    @property
    def labels(self) -> list[Label]:
        return self._labels

    def boundingRect(self) -> QtCore.QRectF:
        # labels extend a few screen pixels beyond the points; pad by a generous margin
        return self._bounds.adjusted(-100, -100, 100, 100)

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        for pen, lines in self._lines:
            painter.setPen(pen)
            painter.drawLines(lines)
        if self._labels:
            self._paint_labels(painter)

    def _paint_labels(self, painter: QtGui.QPainter) -> None:
        to_device = painter.transform()
        painter.resetTransform()
        painter.setFont(self._font)
        metrics = QtGui.QFontMetrics(self._font)
        painter.setPen(QtGui.QColor(255, 255, 255))
        for label in self._labels:
            anchor = to_device.map(QtCore.QPointF(*label.pos))
            box = QtCore.QRectF(metrics.boundingRect(label.text))
            box.adjust(-LABEL_PAD, -LABEL_PAD, LABEL_PAD, LABEL_PAD)
            box.moveCenter(QtCore.QPointF(anchor.x(), anchor.y() - box.height()))
            painter.fillRect(box, label.fill)
            painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, label.text)
        painter.setTransform(to_device)
