"""The decoding trace panel: every step of the greedy decoder, stepped with previous/next;
the current step is drawn on the canvas by the trace layer. People are named as everywhere
(``palette.decoded_label``): with a project open, by the number of their stored prediction.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ...core.decoding.result import InferenceResult
from ..layers.palette import Numbers
from ..layers.trace import describe


class TracePanel(QtWidgets.QWidget):
    """A list of steps and previous/next buttons."""

    stepChosen = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = -1
        self._result: InferenceResult | None = None
        self._numbers: Numbers = None
        self.title = QtWidgets.QLabel()
        self.steps = QtCore.QStringListModel(self)
        self.list = QtWidgets.QListView()
        self.list.setModel(self.steps)
        self.list.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setUniformItemSizes(True)
        self.list.selectionModel().currentChanged.connect(self._row_chosen)
        self.previous = QtWidgets.QPushButton("◀ Previous")
        self.next = QtWidgets.QPushButton("Next ▶")
        self.previous.clicked.connect(lambda: self.stepChosen.emit(self.step - 1))
        self.next.clicked.connect(lambda: self.stepChosen.emit(self.step + 1))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.previous)
        buttons.addWidget(self.next)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        self.set_result(None)

    def set_result(self, result: InferenceResult | None) -> None:
        self._result = result
        self.steps.setStringList(self._lines())
        if result is None:
            self.title.setText("No result yet.")
        elif not result.trace:
            self.title.setText(f"No trace: the {result.decoder} decoder does not record one.")
        self.show_step(-1)

    def set_numbers(self, numbers: Numbers) -> None:
        """Name decoded people by these project numbers (None: by their index); the step stays."""
        self._numbers = numbers
        for row, line in enumerate(self._lines()):
            self.steps.setData(self.steps.index(row), line)

    def _lines(self) -> list[str]:
        events = self._result.trace if self._result is not None else []
        return [f"{i}: {describe(e, self._result.transform, self._numbers)}" for i, e in enumerate(events)]

    def _row_chosen(self, index: QtCore.QModelIndex) -> None:
        if index.row() != self.step:       # the user picked a row (not ``show_step`` echoing)
            self.stepChosen.emit(index.row())

    def show_step(self, step: int) -> None:
        """Reflect the session's current step."""
        self.step = step
        count = self.steps.rowCount()
        if count:
            self.title.setText(f"Step {step + 1} / {count}" if step >= 0 else f"{count} steps: press Next")
        index = self.steps.index(step) if step >= 0 else QtCore.QModelIndex()
        if index != self.list.currentIndex():    # the view repaints the highlight from these signals
            select = QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            self.list.selectionModel().setCurrentIndex(index, select)
        if step >= 0:
            self.list.scrollTo(self.steps.index(step))
        self.previous.setEnabled(step > 0)
        self.next.setEnabled(step + 1 < count)
