"""The one interface every canvas layer implements, and the small pieces layers share.

A layer owns its pyqtgraph items and draws one aspect of an ``InferenceResult``. State
a user can change (visibility, opacity, colour map, option choices) lives on the layer;
panels and the ``render`` command only talk to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from ...core.decoding.result import InferenceResult
from ...core.skeleton import KEYPOINT_NAMES
from .image_item import FastImageItem
from .palette import Numbers

COLORMAPS: tuple[str, ...] = ("inferno", "viridis", "magma", "plasma", "turbo", "cividis")
ALL = "all"
#: Keypoint choice: one type, or every type at once (max over types for scalar maps).
KEYPOINT_CHOICES: tuple[str, ...] = (ALL, *KEYPOINT_NAMES)

ProbeRows = list[tuple[str, str]]


@dataclass
class Option:
    """A named choice a layer offers (keypoint type, edge, refinement step)."""

    label: str
    choices: tuple[str, ...]
    index: int = 0

    @property
    def value(self) -> str:
        return self.choices[self.index]


class Layer:
    """Base class: name, visible, opacity, colour map (where it applies), update(result)."""

    key: ClassVar[str]                 # short id used by settings, shortcuts and ``render``
    name: ClassVar[str]                # label shown in the layers panel
    shortcut: ClassVar[str]            # toggle key
    z: ClassVar[float]                 # stacking order on the canvas
    colormaps: ClassVar[tuple[str, ...]] = ()
    required_heads: ClassVar[tuple[str, ...]] = ()   # trained heads the layer's data needs
    default_visible: ClassVar[bool] = False
    legend: ClassVar[str] = ""       # rich text the layers panel shows as the row's tooltip
    default_opacity: ClassVar[float] = 1.0

    def __init__(self) -> None:
        self.result: InferenceResult | None = None
        self.numbers: Numbers = None   # decoded index -> project number (None: no project)
        self.options: list[Option] = self._make_options()
        self._items: list[QtWidgets.QGraphicsItem] = self._make_items()
        self._visible = self.default_visible
        self._colormap = self.colormaps[0] if self.colormaps else ""
        for item in self._items:
            item.setZValue(self.z)
        self._apply_visibility()
        self.opacity = self.default_opacity

    # -- what subclasses provide -------------------------------------------------------
    def _make_items(self) -> list[QtWidgets.QGraphicsItem]:
        raise NotImplementedError

    def _make_options(self) -> list[Option]:
        return []

    def _draw(self, result: InferenceResult) -> None:
        """Redraw the items from ``result`` (only called when the layer is available)."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Empty the items (no result, or the result lacks this layer's data)."""

    def available(self, result: InferenceResult | None) -> bool:
        """Whether ``result`` holds what this layer draws (heads may be untrained)."""
        return result is not None

    @classmethod
    def applies_to(cls, trained_heads: tuple[str, ...]) -> bool:
        """Whether a model with these heads can produce this layer's data at all."""
        return set(cls.required_heads) <= set(trained_heads)

    def probe(self, xy: np.ndarray) -> ProbeRows:
        """(label, value) rows describing this layer at image pixel ``xy``."""
        return []

    def view_changed(self, pixel_size: float, view: np.ndarray) -> None:
        """The canvas moved: ``pixel_size`` image pixels per screen pixel, ``view`` the
        visible (x0, y0, x1, y1) in image pixels."""

    # -- the shared interface ----------------------------------------------------------
    @property
    def items(self) -> list[QtWidgets.QGraphicsItem]:
        return self._items

    def set_numbers(self, numbers: Numbers) -> None:
        """Name and colour decoded people by these project numbers (None: by their index)."""
        if numbers != self.numbers:
            self.numbers = numbers
            self.refresh()

    def update(self, result: InferenceResult | None) -> None:
        """Show ``result`` (``None``: nothing)."""
        self.result = result
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the current result, e.g. after an option or colour map change
        (hidden layers draw nothing until shown)."""
        if self._visible and self.available(self.result):
            self._draw(self.result)
        else:
            self._clear()
        self._apply_visibility()

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        if bool(value) != self._visible:
            self._visible = bool(value)
            self.refresh()

    @property
    def shown(self) -> bool:
        """Visible and holding data: what the user sees."""
        return self._visible and self.available(self.result)

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._opacity = float(np.clip(value, 0.0, 1.0))
        for item in self._items:
            if isinstance(item, FastImageItem):
                item.set_alpha(self._opacity)
            else:
                item.setOpacity(self._opacity)

    @property
    def colormap(self) -> str:
        return self._colormap

    @colormap.setter
    def colormap(self, name: str) -> None:
        if name not in self.colormaps:
            raise ValueError(f"{name}: not a colour map of layer {self.key}")
        self._colormap = name
        self.refresh()

    def option(self, label: str) -> Option:
        return next(o for o in self.options if o.label == label)

    def set_option(self, label: str, index: int) -> None:
        option = self.option(label)
        option.index = int(np.clip(index, 0, len(option.choices) - 1))
        self.refresh()

    def state(self) -> dict:
        """What the user chose, for persisting."""
        return {"visible": self.visible, "opacity": self.opacity, "colormap": self.colormap,
                "options": {o.label: o.value for o in self.options}}

    def restore(self, state: dict) -> None:
        """Apply a ``state()`` dict, ignoring entries that no longer apply."""
        self.visible = _as_bool(state.get("visible", self.visible))
        self.opacity = float(state.get("opacity", self.opacity))
        if state.get("colormap") in self.colormaps:
            self._colormap = state["colormap"]
        for option in self.options:
            value = (state.get("options") or {}).get(option.label)
            if value in option.choices:
                option.index = option.choices.index(value)
        self.refresh()

    def _apply_visibility(self) -> None:
        shown = self.shown
        for item in self._items:
            item.setVisible(shown)


def _as_bool(value: object) -> bool:
    """QSettings returns 'true'/'false' strings from ini files."""
    return value in (True, "true", "1", 1)


def lookup_table(colormap: str) -> np.ndarray:
    """256x4 uint8 RGBA table of ``colormap`` with alpha rising with the value (overlays)."""
    lut = pg.colormap.get(colormap).getLookupTable(0.0, 1.0, 256, alpha=True)
    lut[:, 3] = (255 * np.sqrt(np.linspace(0.0, 1.0, 256))).astype(np.uint8)
    return lut


def grid_transform(result: InferenceResult) -> QtGui.QTransform:
    """Maps field-grid *item* coordinates (cell (j, i) spans [j, j+1]) to image pixels.

    Cell centres sit at grid coordinates (j, i); ``grid_to_image`` of the corners
    (-0.5, -0.5) and (0.5, 0.5) gives the origin and one cell's extent in image pixels.
    """
    corners = result.grid_to_image(np.array([[-0.5, -0.5], [0.5, 0.5]]))
    (ox, oy), (x1, y1) = corners
    return QtGui.QTransform(x1 - ox, 0.0, 0.0, y1 - oy, ox, oy)


def image_pixel_transform() -> QtGui.QTransform:
    """Places an image-resolution ImageItem so pixel centres sit on integer coordinates."""
    return QtGui.QTransform.fromTranslate(-0.5, -0.5)


def keypoint_index(option: Option) -> int | None:
    """Keypoint type chosen in a ``KEYPOINT_CHOICES`` option; ``None`` for all types."""
    return None if option.value == ALL else KEYPOINT_NAMES.index(option.value)
