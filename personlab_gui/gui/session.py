"""The viewer's model: the image list, the current image and result, and what the user
picked in it (person, probed pixel, trace step). Views listen to its signals; it draws
nothing and runs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from ..core.data.image_io import list_images
from ..core.decoding.result import InferenceResult


class Session(QtCore.QObject):
    """State shared by the canvas and the panels."""

    pathsChanged = QtCore.Signal()
    currentChanged = QtCore.Signal(int)          # index into ``paths`` (-1: none)
    imageChanged = QtCore.Signal(object)         # RGB array or None
    resultChanged = QtCore.Signal(object)        # InferenceResult or None
    personSelected = QtCore.Signal(int)          # -1: none
    probeChanged = QtCore.Signal(object)         # (2,) image pixel or None
    traceStepChanged = QtCore.Signal(int)        # -1: none

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.paths: list[str] = []
        self.index = -1
        self.image: np.ndarray | None = None
        self.result: InferenceResult | None = None
        self.person = -1
        self.probe: np.ndarray | None = None
        self.trace_step = -1

    @property
    def current_path(self) -> str | None:
        return self.paths[self.index] if 0 <= self.index < len(self.paths) else None

    # -- the image list ----------------------------------------------------------------
    def open_paths(self, paths: list[str | os.PathLike]) -> int:
        """Add files (folders expanded to their images) not listed yet and show the first
        of them; returns how many files ``paths`` named."""
        files = list(dict.fromkeys(str(Path(p).resolve()) for p in list_images(paths)))
        new = [f for f in files if f not in self.paths]
        if new:
            self.paths.extend(new)
            self.pathsChanged.emit()
        if files:
            self.set_index(self.paths.index(files[0]))
        return len(files)

    def replace_paths(self, paths: list[str]) -> None:
        """Make ``paths`` (resolved files, e.g. a project's images) the whole list and show
        the first."""
        self.paths = list(paths)
        self.index = -1
        self.pathsChanged.emit()
        if self.paths:
            self.set_index(0)

    def set_index(self, index: int) -> None:
        """Show image ``index`` (clamped); clears the result and every pick."""
        index = min(max(index, 0), len(self.paths) - 1)
        if index == self.index:
            return
        self.index = index
        self.image = None
        self.imageChanged.emit(None)
        self._set_result(None)
        self.select_person(-1)
        self.set_probe(None)
        self.currentChanged.emit(index)

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) image, wrapping around."""
        if self.paths:
            self.set_index((self.index + delta) % len(self.paths))

    # -- what arrives from the workers -------------------------------------------------
    def set_image(self, path: str, image: np.ndarray) -> None:
        if path == self.current_path and image is not self.image:
            self.image = image
            self.imageChanged.emit(image)

    def set_result(self, path: str, result: InferenceResult) -> None:
        """A result for ``path`` (ignored unless it is the current image)."""
        if path == self.current_path and result is not self.result:
            self._set_result(result)

    def _set_result(self, result: InferenceResult | None) -> None:
        self.result = result
        self.resultChanged.emit(result)
        if result is None or self.person >= result.num_people:
            self.select_person(-1)
        self.set_trace_step(-1)

    # -- picks ---------------------------------------------------------------------------
    def select_person(self, index: int) -> None:
        if index != self.person:
            self.person = index
            self.personSelected.emit(index)

    def set_probe(self, xy: np.ndarray | None) -> None:
        self.probe = None if xy is None else np.asarray(xy, dtype=np.float64)
        self.probeChanged.emit(self.probe)

    def set_trace_step(self, step: int) -> None:
        """Show trace event ``step`` (clamped to the trace; -1: none)."""
        events = len(self.result.trace) if self.result is not None else 0
        step = min(max(step, -1), events - 1)
        if step != self.trace_step:
            self.trace_step = step
            self.traceStepChanged.emit(step)
