"""The status bar: device, network and decode times, people (the decoded ones, or the
labels of the project image shown), and background progress with a cancel button;
messages (errors included) on the left.
"""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from ..core.data.pseudo_labels import LABEL
from ..core.decoding.result import InferenceResult


class StatusBar(QtWidgets.QStatusBar):
    """Permanent figures on the right, transient messages on the left."""

    def __init__(self, cancel: QtGui.QAction, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = QtWidgets.QLabel("device: –")
        self.network = QtWidgets.QLabel("network: – ms")
        self.decode = QtWidgets.QLabel("decode: – ms")
        self.people = QtWidgets.QLabel("people: –")
        self._decoded = "people: –"
        self._labelled: int | None = None
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel = QtWidgets.QToolButton()
        self.cancel.setDefaultAction(cancel)
        for widget in (self.progress, self.cancel, self.device, self.network, self.decode, self.people):
            self.addPermanentWidget(widget)
        self.set_busy(False)

    def set_device(self, name: str) -> None:
        self.device.setText(f"device: {name}")

    def show_result(self, result: InferenceResult | None) -> None:
        if result is None:
            texts = ("network: – ms", "decode: – ms")
            self._decoded = "people: –"
        else:
            texts = (f"network: {result.forward_ms:.0f} ms", f"decode: {result.decode_ms:.0f} ms")
            labels = result.label_verdicts.count(LABEL)
            self._decoded = f"people: {labels} (+{result.num_people - labels} candidates)"
        for label, text in zip((self.network, self.decode), texts):
            label.setText(text)
        self._show_people()

    def show_labelled(self, count: int | None) -> None:
        """The number of people the project image holds (None: no project image shown)."""
        self._labelled = count
        self._show_people()

    def _show_people(self) -> None:
        self.people.setText(self._decoded if self._labelled is None else f"people: {self._labelled} labelled")

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)

    def set_progress(self, stage: int, stages: int, text: str) -> None:
        self.progress.setRange(0, stages)
        self.progress.setValue(stage)
        self.progress.setFormat(text)
