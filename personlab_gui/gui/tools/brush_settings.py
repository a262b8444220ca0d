"""The brush radius shared by the brush and the eraser ([ and ] change it)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

DEFAULT_RADIUS = 12
MIN_RADIUS, MAX_RADIUS = 1, 400
RADIUS_STEP = 1.25


class BrushSettings(QtCore.QObject):
    """The radius in image pixels."""

    changed = QtCore.Signal(int)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.radius = DEFAULT_RADIUS

    def set_radius(self, radius: int) -> None:
        radius = int(np.clip(radius, MIN_RADIUS, MAX_RADIUS))
        if radius != self.radius:
            self.radius = radius
            self.changed.emit(radius)

    def grow(self) -> None:
        self.set_radius(max(self.radius + 1, round(self.radius * RADIUS_STEP)))

    def shrink(self) -> None:
        self.set_radius(min(self.radius - 1, round(self.radius / RADIUS_STEP)))
