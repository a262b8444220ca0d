"""Draws every raster layer (the photo, scalar maps, basins, masks) as ONE image.

Each raster layer covers the whole viewport, and the raster engine pays per painted
screen pixel, translucent ones most: drawn one by one, the photo and five overlays would
eat most of a 16 ms frame. The compositor blends the visible raster layers, in stacking
order, into one buffer aligned with the image pixels whenever one of them changes (data,
colour map, opacity, visibility); a pan or zoom then paints a single image — opaque when
the photo is shown — whatever the number of layers. The layers still own their items and
decide what they show; the compositor only draws them.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .layers.image_item import FastImageItem

#: Largest buffer (pixels); bigger images are composited, and so shown, at a reduced scale.
MAX_PIXELS = 16_000_000


class RasterCompositor(pg.GraphicsObject):
    """A canvas item painting the blend of its source items over the image extent."""

    def __init__(self) -> None:
        super().__init__()
        self._sources: list[FastImageItem] = []
        self._hw: tuple[int, int] | None = None
        self._buffer: QtGui.QImage | None = None
        self._dirty = False

    def add_source(self, item: FastImageItem) -> None:
        """Draw ``item`` (not itself in the scene) through this compositor."""
        self._sources.append(item)
        for signal in (item.sigImageChanged, item.sigPictureChanged, item.visibleChanged):
            signal.connect(self.invalidate)

    def set_extent(self, image_hw: tuple[int, int] | None) -> None:
        """The image's (H, W): the area the raster layers cover."""
        self.prepareGeometryChange()
        self._hw = image_hw
        self.invalidate()

    def invalidate(self) -> None:
        self._dirty = True
        self.update()

    @property
    def buffer(self) -> QtGui.QImage | None:
        """The blended layers (composited now if anything changed)."""
        if self._dirty:
            self._buffer = self._composite()
            self._dirty = False
        return self._buffer

    def boundingRect(self) -> QtCore.QRectF:
        if self._hw is None:
            return QtCore.QRectF()
        return QtCore.QRectF(-0.5, -0.5, self._hw[1], self._hw[0])

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        if self.buffer is not None:
            painter.drawImage(self.boundingRect(), self.buffer)

    def _composite(self) -> QtGui.QImage | None:
        shown = sorted((s for s in self._sources if s.isVisible() and s.picture() is not None),
                       key=lambda s: s.zValue())
        if self._hw is None or not shown:
            return None
        h, w = self._hw
        scale = min(1.0, math.sqrt(MAX_PIXELS / (h * w)))
        opaque = not shown[0].picture().hasAlphaChannel() and _covers(shown[0], self.boundingRect())
        buffer = QtGui.QImage(max(1, round(w * scale)), max(1, round(h * scale)),
                              QtGui.QImage.Format.Format_RGB32 if opaque
                              else QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        buffer.fill(0)
        painter = QtGui.QPainter(buffer)
        painter.scale(buffer.width() / w, buffer.height() / h)
        painter.translate(0.5, 0.5)   # buffer pixel (0, 0) covers image pixel (0, 0), centred at 0
        for source in shown:
            painter.save()
            painter.setTransform(source.transform(), True)
            painter.drawImage(QtCore.QRectF(0, 0, source.width(), source.height()), source.picture())
            painter.restore()
        painter.end()
        return buffer


def _covers(source: FastImageItem, rect: QtCore.QRectF) -> bool:
    """Whether ``source`` spans ``rect`` (an opaque photo then hides everything below)."""
    extent = source.transform().mapRect(QtCore.QRectF(0, 0, source.width(), source.height()))
    return extent.contains(rect)
