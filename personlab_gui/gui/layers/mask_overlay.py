"""The document's masks as ONE image-sized texture updated in place.

A mask edit recomposes only the box it touched, in the texture's own pixel buffer, and
asks Qt to repaint only that box; painting draws only the exposed part of the buffer.
Brushing on a 4000 x 3000 image thus never re-uploads or re-blends the whole image (the
raster compositor of the result's layers is not involved). Each person has its colour
(``palette``, from its ``Document.number``); predictions are fainter, the selected person
stronger. The texture always matches the document's image: a change arriving for another
image than the one drawn (listeners run in any order) redraws everything first.

The texture's QImage views the numpy buffer ``pixels`` (so a box is recomposed in
place); the two are only ever replaced together and the QImage keeps a reference to the
buffer, so Qt never reads freed memory.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.data.boxes import Box, intersect, slices, union
from ..document import Document
from ..selection import Selection
from .annotations import drawing_order
from .base import image_pixel_transform
from .palette import person_color

Z = 35
ALPHA = 110
PREDICTED_ALPHA = 70
SELECTED_ALPHA = 160


class MaskTexture(pg.GraphicsObject):
    """An (H, W) premultiplied BGRA buffer drawn over image pixels; ``touch`` repaints a box."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setTransform(image_pixel_transform())
        self.setZValue(Z)
        self.pixels = np.zeros((0, 0, 4), np.uint8)
        self._image = QtGui.QImage()

    def resize(self, image_hw: tuple[int, int]) -> None:
        """A cleared buffer of the image's size."""
        self.prepareGeometryChange()
        h, w = image_hw
        pixels = np.zeros((h, w, 4), np.uint8)
        self._image = QtGui.QImage(pixels, w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        self.pixels = pixels
        self.update()

    def touch(self, box: Box) -> None:
        """Repaint the pixels of ``box`` (after changing them in ``pixels``)."""
        x0, y0, x1, y1 = box
        self.update(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(0, 0, self.pixels.shape[1], self.pixels.shape[0])

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if not exposed.isEmpty():
            painter.drawImage(QtCore.QRectF(exposed), self._image, QtCore.QRectF(exposed))


class MaskOverlay(QtCore.QObject):
    """Keeps a ``MaskTexture`` showing the document's masks; tools may show a preview."""

    def __init__(self, doc: Document, selection: Selection, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.selection = doc, selection
        self.texture = MaskTexture()
        self._preview: tuple[int, np.ndarray] | None = None
        self._styles: dict[int, tuple] = {}
        self._drawn: tuple[int | None, tuple[int, int]] = (None, (0, 0))   # the image in the texture
        doc.image_changed.connect(self.redraw)
        doc.person_added.connect(self.redraw)
        doc.person_removed.connect(self.redraw)
        doc.person_changed.connect(self._restyle)
        doc.mask_changed.connect(lambda _, box: self.compose(box))
        selection.changed.connect(self._restyle_all)

    def preview(self, person_id: int, mask: np.ndarray, box: Box) -> None:
        """Show ``mask`` as the person's mask (a stroke in progress) and repaint ``box``."""
        self._preview = (person_id, mask)
        self.compose(box)

    def end_preview(self) -> None:
        self._preview = None

    def redraw(self) -> None:
        """Recompose everything (image or people changed)."""
        self.texture.resize(self.doc.image_hw)
        self._drawn = (self.doc.image_id, self.doc.image_hw)
        self._styles = {i: self._style(i) for i in self.doc.people}
        boxes = [self.doc.mask_box(i) for i in self.doc.people]
        whole = None
        for box in boxes:
            whole = union(whole, box)
        if whole is not None:
            self.compose(whole)

    def compose(self, box: Box) -> None:
        """Recompose and repaint the texture inside ``box``."""
        if self._drawn != (self.doc.image_id, self.doc.image_hw):
            self.redraw()   # the texture still shows the previous image
            return
        region = np.zeros((box[3] - box[1], box[2] - box[0], 4), np.uint8)
        for person_id in drawing_order(self.doc, self.selection):
            mask, person_box = self._mask(person_id)
            inside = intersect(box, person_box) if person_box is not None else None
            if inside is None:
                continue
            local = (inside[0] - box[0], inside[1] - box[1], inside[2] - box[0], inside[3] - box[1])
            region[slices(local)][mask[slices(inside)]] = self._bgra(person_id)
        self.texture.pixels[slices(box)] = region
        self.texture.touch(box)

    def _mask(self, person_id: int) -> tuple[np.ndarray | None, Box | None]:
        if self._preview is not None and self._preview[0] == person_id:
            h, w = self.doc.image_hw
            return self._preview[1], (0, 0, w, h)
        return self.doc.mask(person_id), self.doc.mask_box(person_id)

    def _style(self, person_id: int) -> tuple[int, int]:
        """(the person's number, alpha)."""
        number = self.doc.number(person_id)
        if person_id == self.selection.person:
            return number, SELECTED_ALPHA
        return number, PREDICTED_ALPHA if self.doc.people[person_id].provenance == "predicted" else ALPHA

    def _bgra(self, person_id: int) -> np.ndarray:
        number, alpha = self._styles.get(person_id) or self._style(person_id)
        rgb = np.array(person_color(number), np.float64) * alpha / 255.0
        return np.array([*np.rint(rgb[::-1]), alpha], np.uint8)

    def _restyle(self, person_id: int) -> None:
        if self._drawn != (self.doc.image_id, self.doc.image_hw):
            self.redraw()
            return
        style = self._style(person_id)
        if style != self._styles.get(person_id):
            self._styles[person_id] = style
            box = self.doc.mask_box(person_id)
            if box is not None:
                self.compose(box)

    def _restyle_all(self) -> None:
        for person_id in self.doc.people:
            self._restyle(person_id)
