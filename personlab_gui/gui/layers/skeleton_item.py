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
    """Text centred above ``pos`` (item coordinates) on a coloured box, naming ``owner``
    (the person a click on it selects)."""

    pos: tuple[float, float]
    text: str
    fill: QtGui.QColor
    owner: int = -1


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

    def label_at(self, xy: np.ndarray) -> int | None:
        """The owner of the topmost label drawn over item point ``xy``, if any."""
        to_device = self.deviceTransform_()
        if to_device is None:
            return None
        point = to_device.map(QtCore.QPointF(float(xy[0]), float(xy[1])))
        hits = [label.owner for label in self._labels if self._label_box(label, to_device).contains(point)]
        return hits[-1] if hits else None

    def _label_box(self, label: Label, to_device: QtGui.QTransform) -> QtCore.QRectF:
        """Where ``label`` is drawn, in device pixels."""
        anchor = to_device.map(QtCore.QPointF(*label.pos))
        box = QtCore.QRectF(QtGui.QFontMetrics(self._font).boundingRect(label.text))
        box.adjust(-LABEL_PAD, -LABEL_PAD, LABEL_PAD, LABEL_PAD)
        box.moveCenter(QtCore.QPointF(anchor.x(), anchor.y() - box.height()))
        return box

    def _paint_labels(self, painter: QtGui.QPainter) -> None:
        to_device = painter.transform()
        painter.resetTransform()
        painter.setFont(self._font)
        painter.setPen(QtGui.QColor(255, 255, 255))
        for label in self._labels:
            box = self._label_box(label, to_device)
            painter.fillRect(box, label.fill)
            painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, label.text)
        painter.setTransform(to_device)
