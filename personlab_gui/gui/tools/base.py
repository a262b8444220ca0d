"""The one interface every canvas tool implements, what tools share (``ToolContext``), and
the invisible canvas item that hands the mouse to the active tool (``ToolSurface``).

Positions are image pixels (pixel centres on integers). A tool that does not want a
press (a drag away from anything it edits, a click on nothing) declines it, and the view
pans or the viewer probes the pixel as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.decoding.result import InferenceResult
from ..document import Document
from ..layers.mask_overlay import MaskOverlay
from ..selection import Selection
from .brush_settings import BrushSettings

#: Previews (brush ring, polygon) draw above the people.
PREVIEW_Z = 70
#: Picking reaches this many screen pixels around a keypoint.
PICK_SCREEN_PX = 10.0


@dataclass
class ToolContext:
    """What tools work with: the model, the undo stack, the view and the model's result."""

    doc: Document
    stack: QtGui.QUndoStack
    selection: Selection
    overlay: MaskOverlay
    brush: BrushSettings
    view: pg.ViewBox
    result: Callable[[], InferenceResult | None]      # the current image's result, if any
    pixel_size: Callable[[], float]                   # image pixels per screen pixel
    message: Callable[[str], None]                    # a line in the status bar
    context_menu: Callable[[], QtWidgets.QMenu | None]   # actions on the selection
    label_at: Callable[[np.ndarray], int | None]      # the person whose canvas label is at a pixel

    @property
    def pick_radius(self) -> float:
        return PICK_SCREEN_PX * self.pixel_size()

    def selected_person(self) -> int | None:
        """The selected person, or None after saying that one is needed."""
        if self.selection.person is None:
            self.message("Select a person first (click one of its keypoints or its mask).")
        return self.selection.person

    def add_preview(self, item: QtWidgets.QGraphicsItem) -> None:
        item.setZValue(PREVIEW_Z)
        self.view.addItem(item, ignoreBounds=True)


class Tool:
    """Base class: name, shortcut, status-bar prompt and mouse handlers that decline."""

    key: ClassVar[str]
    name: ClassVar[str]
    shortcut: ClassVar[str]
    hint: ClassVar[str]

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    def prompt(self) -> str:
        """The status-bar line while the tool is active."""
        return self.hint

    def activate(self) -> None:
        self.ctx.message(self.prompt())

    def deactivate(self) -> None:
        """The tool is switched away: drop any unfinished work."""
        self.reset()

    def reset(self) -> None:
        """Drop unfinished work (also when the image changes: it belongs to the last one)."""

    def click(self, xy: np.ndarray, double: bool) -> bool:
        """A left click; returns whether the tool used it."""
        return False

    def drag_start(self, xy: np.ndarray) -> bool:
        """A left drag begins at ``xy``; returns whether the tool takes the drag."""
        return False

    def drag_move(self, xy: np.ndarray) -> None:
        """The taken drag reached ``xy``."""

    def drag_end(self, xy: np.ndarray) -> None:
        """The taken drag ended at ``xy``."""

    def hover(self, xy: np.ndarray | None) -> None:
        """The mouse is over image pixel ``xy`` (None: it left)."""

    def finish(self) -> None:
        """Enter: complete what is under way."""

    def back(self) -> None:
        """Backspace: step back or skip."""

    def menu(self, xy: np.ndarray) -> QtWidgets.QMenu | None:
        """The context menu at ``xy`` (default: actions on the selection)."""
        return self.ctx.context_menu()


class ToolSurface(pg.GraphicsObject):
    """Covers the image, draws nothing, and gives the active tool the mouse."""

    takes_clicks = True   # the canvas does not probe a click a tool used

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setZValue(PREVIEW_Z + 10)
        self.tool: Tool | None = None
        self._rect = QtCore.QRectF()

    def set_extent(self, image_hw: tuple[int, int]) -> None:
        self.prepareGeometryChange()
        h, w = image_hw
        self._rect = QtCore.QRectF(-0.5, -0.5, w, h) if h and w else QtCore.QRectF()

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, *args) -> None:
        pass

    def mouseClickEvent(self, ev) -> None:
        used = False
        if self.tool is not None and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            used = self.tool.click(_xy(ev.pos()), ev.double())
        elif self.tool is not None and ev.button() == QtCore.Qt.MouseButton.RightButton:
            menu = self.tool.menu(_xy(ev.pos()))
            if menu is not None:
                menu.popup(ev.screenPos().toPoint())
            used = menu is not None
        ev.accept() if used else ev.ignore()

    def mouseDragEvent(self, ev) -> None:
        if self.tool is None or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            if not self.tool.drag_start(_xy(ev.buttonDownPos())):
                ev.ignore()
                return
            self.tool.drag_move(_xy(ev.pos()))
        elif ev.isFinish():
            self.tool.drag_end(_xy(ev.pos()))
        else:
            self.tool.drag_move(_xy(ev.pos()))
        ev.accept()


def _xy(point: QtCore.QPointF) -> np.ndarray:
    return np.array([point.x(), point.y()])
