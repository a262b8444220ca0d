"""The inspector: values of every visible map under the cursor, the clicked pixel's
embedding distances (or offsets), and the selected person's per-keypoint scores.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from ...core.decoding.result import InferenceResult
from ...core.skeleton import KEYPOINT_NAMES
from ..layers.base import ProbeRows
from ..layers.palette import Numbers, decoded_label
from ..probing import click_rows
from .tables import fill_table, text_table


class InspectorPanel(QtWidgets.QWidget):
    """Three sections: cursor, clicked pixel, selected person."""

    personChosen = QtCore.Signal(int)   # -1: none

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._numbers: Numbers = None
        self.cursor_table = text_table(["map", "value at cursor"])
        self.click_title = QtWidgets.QLabel("Click the image to probe a pixel.")
        self.click_table = text_table(["clicked pixel", "value"])
        self.person_combo = QtWidgets.QComboBox()
        self.person_combo.currentIndexChanged.connect(lambda i: self.personChosen.emit(i - 1))
        self.person_score = QtWidgets.QLabel()
        self.person_table = text_table(["keypoint", "x", "y", "expected OKS"])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.cursor_table, 3)
        layout.addWidget(self.click_title)
        layout.addWidget(self.click_table, 2)
        person = QtWidgets.QHBoxLayout()
        person.addWidget(QtWidgets.QLabel("Person"))
        person.addWidget(self.person_combo, 1)
        person.addWidget(self.person_score)
        layout.addLayout(person)
        layout.addWidget(self.person_table, 4)
        self.set_result(None)

    def show_cursor(self, rows: ProbeRows) -> None:
        fill_table(self.cursor_table, rows)

    def show_click(self, result: InferenceResult | None, xy: np.ndarray | None) -> None:
        """The clicked pixel: D_ij to every person with long-range offsets, else its vectors."""
        if result is None or xy is None:
            self.click_title.setText("Click the image to probe a pixel.")
            fill_table(self.click_table, [])
            return
        what = "embedding distance D" if result.long_refined is not None else "offsets (image px)"
        self.click_title.setText(f"Clicked ({xy[0]:.0f}, {xy[1]:.0f}): {what}")
        fill_table(self.click_table, click_rows(result, xy, lambda j: decoded_label(j, self._numbers)))

    def set_result(self, result: InferenceResult | None) -> None:
        """Refill the person chooser (keeps nothing selected)."""
        self._result = result
        self._fill_people()
        self.show_person(-1)

    def set_numbers(self, numbers: Numbers) -> None:
        """Name decoded people by these project numbers (None: by their index)."""
        self._numbers = numbers
        current = self.person_combo.currentIndex()
        self._fill_people()
        with QtCore.QSignalBlocker(self.person_combo):
            self.person_combo.setCurrentIndex(current)

    def _fill_people(self) -> None:
        result = self._result
        people = result.people if result is not None else []
        verdicts = result.label_verdicts if result is not None else []   # label, or why only a candidate
        with QtCore.QSignalBlocker(self.person_combo):
            self.person_combo.clear()
            self.person_combo.addItem(f"none ({len(people)} detected)")
            self.person_combo.addItems([f"{decoded_label(j, self._numbers)}  score {p.score:.3f}  {verdict}"
                                        for j, (p, verdict) in enumerate(zip(people, verdicts))])

    def show_person(self, index: int) -> None:
        """Per-keypoint expected-OKS scores and the instance score of person ``index``."""
        with QtCore.QSignalBlocker(self.person_combo):
            self.person_combo.setCurrentIndex(index + 1)
        if index < 0 or self._result is None:
            self.person_score.setText("")
            fill_table(self.person_table, [])
            return
        person = self._result.people[index]
        self.person_score.setText(f"instance score {person.score:.3f}")
        fill_table(self.person_table, [(name, f"{x:.1f}", f"{y:.1f}", f"{s:.3f}")
                                       for name, (x, y, s) in zip(KEYPOINT_NAMES, person.keypoints)])
