"""An ImageItem that keeps its rendered picture in the raster engine's native format and
applies its opacity to the picture itself.

pyqtgraph renders lookup-table images as non-premultiplied ARGB32, which QPainter
converts on *every* paint, and an item opacity below 1 sends every paint down a slow
blending path (4-5x slower). Converting once per render (premultiplied ARGB32, or RGB32
without alpha) and scaling the premultiplied pixels by the opacity keeps repaints cheap;
an opacity change costs one re-render instead. ``picture()`` gives the rendered image to
whoever draws it (the canvas blends overlays together, see ``gui.compositor``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

_ALPHA = QtGui.QImage.Format.Format_ARGB32_Premultiplied
_OPAQUE = QtGui.QImage.Format.Format_RGB32


class FastImageItem(pg.ImageItem):
    """Row-major ImageItem drawing a pre-converted, pre-faded QImage."""

    #: The picture changed in a way ``sigImageChanged`` does not report (opacity, clear).
    sigPictureChanged = QtCore.Signal()

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major", autoDownsample=False)
        self._alpha = 1.0

    def set_alpha(self, alpha: float) -> None:
        """Opacity of the picture (use instead of ``setOpacity``)."""
        if alpha != self._alpha:
            self._alpha = alpha
            self._renderRequired = True   # pyqtgraph's own re-render flag
            self.update()
            self.sigPictureChanged.emit()

    def clear(self) -> None:
        super().clear()
        self.sigPictureChanged.emit()

    def picture(self) -> QtGui.QImage | None:
        """The rendered image (rendering it first if needed); None without data."""
        if self.image is None:
            return None
        if self._renderRequired or self.qimage is None:
            self.render()
        return self.qimage

    def render(self) -> None:
        super().render()
        if self.qimage is None:
            return
        fast = _ALPHA if self.qimage.hasAlphaChannel() or self._alpha < 1.0 else _OPAQUE
        image = self.qimage if self.qimage.format() == fast else self.qimage.convertToFormat(fast)
        self.qimage = image if self._alpha >= 1.0 else faded(image, self._alpha)


def faded(image: QtGui.QImage, alpha: float) -> QtGui.QImage:
    """A premultiplied ARGB32 image with every channel scaled by ``alpha``."""
    h, stride = image.height(), image.bytesPerLine()
    pixels = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    scaled = np.ascontiguousarray((pixels * alpha).astype(np.uint8))
    return QtGui.QImage(scaled.data, image.width(), h, stride, _ALPHA).copy()
