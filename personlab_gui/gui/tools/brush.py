"""Brush and eraser: paint the selected person's mask with a round brush.

A stroke paints into a working copy of the mask, shown live through the overlay's
preview (only the touched box is recomposed and repainted), and becomes ONE undo step
(one ``PaintMask`` over the stroke's box) when the mouse is released.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from ...core.data.boxes import Box, around, slices, union
from ..commands import PaintMask
from .base import Tool


class StrokeTool(Tool):
    """Paints ``value`` along the mouse path."""

    value: ClassVar[bool]
    stroke_name: ClassVar[str]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.ring = QtWidgets.QGraphicsEllipseItem()
        self.ring.setPen(pg.mkPen(255, 255, 255, 220, width=1.5))
        self.ring.setVisible(False)
        ctx.add_preview(self.ring)
        self._person: int | None = None
        self._work: np.ndarray | None = None
        self._box: Box | None = None
        self._last = np.zeros(2)
        self._active = False
        ctx.brush.changed.connect(self._radius_changed)

    def prompt(self) -> str:
        return f"{self.hint} Radius {self.ctx.brush.radius} px ([ and ] change it)."

    def activate(self) -> None:
        self._active = True
        super().activate()

    def deactivate(self) -> None:
        self._active = False
        self.ring.setVisible(False)
        self.reset()

    def reset(self) -> None:
        if self._work is not None:
            self._person = self._work = self._box = None
            self.ctx.overlay.end_preview()

    def _radius_changed(self, _radius: int) -> None:
        """The status bar's radius follows the brush settings (the one source of it)."""
        if self._active:
            self.ctx.message(self.prompt())

    def hover(self, xy: np.ndarray | None) -> None:
        self.ring.setVisible(xy is not None)
        if xy is not None:
            r = self.ctx.brush.radius
            self.ring.setRect(xy[0] - r, xy[1] - r, 2 * r, 2 * r)

    def click(self, xy: np.ndarray, double: bool) -> bool:
        if self.drag_start(xy):
            self._commit()
        return True

    def drag_start(self, xy: np.ndarray) -> bool:
        person = self.ctx.selected_person()
        if person is None:
            return True   # taken anyway: a stroke that pans the view would surprise
        doc = self.ctx.doc
        mask = doc.mask(person)
        self._person = person
        self._work = mask.copy() if mask is not None else np.zeros(doc.image_hw, bool)
        self._box, self._last = None, xy
        self._dab(xy)
        return True

    def drag_move(self, xy: np.ndarray) -> None:
        if self._work is not None:
            self._dab(xy)
        self.hover(xy)

    def drag_end(self, xy: np.ndarray) -> None:
        self.drag_move(xy)
        self._commit()

    def _dab(self, xy: np.ndarray) -> None:
        """Paint the segment from the last position to ``xy`` into the working mask."""
        r = self.ctx.brush.radius
        start, self._last = self._last, xy
        box = around(np.array([start, xy]), r + 1, self.ctx.doc.image_hw)
        if box is None:
            return
        crop = self._work[slices(box)].astype(np.uint8)
        a, b = (tuple(int(v) for v in np.rint(p - box[:2])) for p in (start, xy))
        cv2.line(crop, a, b, int(self.value), thickness=2 * r + 1)
        for point in (a, b):
            cv2.circle(crop, point, r, int(self.value), thickness=-1)
        self._work[slices(box)] = crop.astype(bool)
        self._box = union(self._box, box)
        self.ctx.overlay.preview(self._person, self._work, box)

    def _commit(self) -> None:
        person, box, work = self._person, self._box, self._work
        self._person = self._work = self._box = None
        self.ctx.overlay.end_preview()
        if box is None or self.ctx.doc.resolve(person) not in self.ctx.doc.people:
            return   # nothing painted, or the person went away meanwhile (new predictions, undo)
        after = work[slices(box)]
        if not np.array_equal(after, self.ctx.doc.mask_crop(person, box)):
            self.ctx.stack.push(PaintMask(self.ctx.doc, person, box, after, self.stroke_name))


class BrushTool(StrokeTool):
    key, name, shortcut, value = "brush", "Brush", "D", True
    hint, stroke_name = "Brush: drag to paint the selected person's mask.", "Brush stroke"


class EraserTool(StrokeTool):
    key, name, shortcut, value = "eraser", "Eraser", "X", False
    hint, stroke_name = "Eraser: drag to erase from the selected person's mask.", "Erase stroke"
