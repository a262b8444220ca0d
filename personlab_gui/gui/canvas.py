"""The central canvas: a pyqtgraph ViewBox (y down, square pixels, pan/zoom) holding every
layer's items, in original image pixels. Emits the image pixel under the mouse and clicks.

Vector items (arrows, people, markers) are drawn by the scene; the raster layers (the
photo and the maps) through one ``RasterCompositor`` at the bottom of the stack.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ..core.decoding.result import InferenceResult
from .layers import Layer
from .layers.base import ProbeRows
from .compositor import RasterCompositor
from .layers.image import ImageLayer
from .layers.image_item import FastImageItem

#: Margin around the image when fitting it to the window, as a fraction of its size.
FIT_PADDING = 0.02
ZOOM_STEP = 1.25


class Canvas(pg.GraphicsView):
    """Draws the layers; knows nothing of panels or workers."""

    hovered = QtCore.Signal(object)   # (2,) image pixel, or None when the mouse leaves
    clicked = QtCore.Signal(object)   # (2,) image pixel

    def __init__(self, layers: dict[str, Layer], parent=None) -> None:
        super().__init__(parent, background=(32, 32, 32))
        self.layers = layers
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.rasters = RasterCompositor()
        self.rasters.setZValue(self.image_layer.z)
        self.view.addItem(self.rasters, ignoreBounds=True)
        for layer in layers.values():
            for item in layer.items:
                if isinstance(item, FastImageItem):
                    self.rasters.add_source(item)
                else:
                    self.view.addItem(item, ignoreBounds=True)
        self.view.sigRangeChanged.connect(self._range_changed)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.setAcceptDrops(False)
        self._image_hw: tuple[int, int] | None = None
        self._cleared_at: QtCore.QRectF | None = None   # the view when the last image was cleared

    @property
    def image_layer(self) -> ImageLayer:
        return self.layers["image"]

    def set_image(self, image: np.ndarray | None) -> None:
        """Show a photo (None: clear it, another one is on its way). A new photo is shown
        whole, unless a view was picked while it loaded (a person to look at): the zoom of
        the previous image never carries over."""
        self.image_layer.set_image(image)
        if image is None:
            self._cleared_at = self.view.targetRect()
            return
        new_size = image.shape[:2] != self._image_hw
        if new_size:
            self._image_hw = image.shape[:2]
            self.rasters.set_extent(self._image_hw)
        cleared, self._cleared_at = self._cleared_at, None
        view_picked = cleared is not None and self.view.targetRect() != cleared
        if (new_size or cleared is not None) and not view_picked:
            self.fit()

    def set_result(self, result: InferenceResult | None) -> None:
        for layer in self.layers.values():
            layer.update(result)

    def probe(self, xy: np.ndarray) -> ProbeRows:
        """(label, value) rows of every shown layer at image pixel ``xy``."""
        return [row for layer in self.layers.values() if layer.shown for row in layer.probe(xy)]

    def fit(self) -> None:
        """Fit the whole image to the window."""
        if self._image_hw is not None:
            h, w = self._image_hw
            self.view.setRange(QtCore.QRectF(-0.5, -0.5, w, h), padding=FIT_PADDING)

    def zoom(self, factor: float) -> None:
        """Zoom about the view centre (factor > 1 zooms in)."""
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    def pixel_size(self) -> float:
        """Image pixels per screen pixel at the current zoom."""
        sx, _ = self.view.viewPixelSize()
        return float(sx) if np.isfinite(sx) and sx > 0 else 1.0

    def _range_changed(self, *_) -> None:
        size, rect = self.pixel_size(), self.view.viewRect()
        view = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()])
        for layer in self.layers.values():
            layer.view_changed(size, view)

    def _to_image(self, scene_pos: QtCore.QPointF) -> np.ndarray:
        point = self.view.mapSceneToView(scene_pos)
        return np.array([point.x(), point.y()])

    def _mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        inside = self.view.sceneBoundingRect().contains(scene_pos)
        self.hovered.emit(self._to_image(scene_pos) if inside and self._image_hw else None)

    def _mouse_clicked(self, event) -> None:
        """A left click probes the pixel, unless an item that ``takes_clicks`` (an editing
        tool) used it."""
        used = event.isAccepted() and getattr(event.currentItem, "takes_clicks", False)
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self._image_hw is not None and not used:
            self.clicked.emit(self._to_image(event.scenePos()))

    def leaveEvent(self, event) -> None:
        self.hovered.emit(None)
        super().leaveEvent(event)
