"""The editing panel: the tool palette, the brush radius, a keypoint type to add to the
selected person, whether the annotation masks are shown, and what is selected.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.skeleton import KEYPOINT_NAMES
from ..tools.brush_settings import MAX_RADIUS, MIN_RADIUS, BrushSettings

TOOL_COLUMNS = 2


class EditingPanel(QtWidgets.QWidget):
    """Controls of the editing tools; emits what the user picks."""

    keypointChosen = QtCore.Signal(int)   # a keypoint type to place on the selected person
    masksShown = QtCore.Signal(bool)

    def __init__(self, tool_actions: list[QtGui.QAction], brush: BrushSettings,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(_tool_grid(tool_actions))
        form = QtWidgets.QFormLayout()
        self.radius = QtWidgets.QSpinBox()
        self.radius.setRange(MIN_RADIUS, MAX_RADIUS)
        self.radius.setSuffix(" px")
        self.radius.setValue(brush.radius)
        self.radius.valueChanged.connect(brush.set_radius)
        brush.changed.connect(self.radius.setValue)
        form.addRow("Brush radius [ ]", self.radius)
        self.add_keypoint = QtWidgets.QComboBox()
        self.add_keypoint.addItems(["choose a type…", *KEYPOINT_NAMES])
        self.add_keypoint.activated.connect(self._keypoint_chosen)
        form.addRow("Add keypoint", self.add_keypoint)
        layout.addLayout(form)
        self.masks = QtWidgets.QCheckBox("Show annotation masks")
        self.masks.setChecked(True)
        self.masks.toggled.connect(self.masksShown)
        layout.addWidget(self.masks)
        self.info = QtWidgets.QLabel()
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        layout.addStretch(1)

    def show_info(self, text: str) -> None:
        self.info.setText(text)

    def _keypoint_chosen(self, index: int) -> None:
        if index > 0:
            self.keypointChosen.emit(index - 1)
        self.add_keypoint.setCurrentIndex(0)


def _tool_grid(actions: list[QtGui.QAction]) -> QtWidgets.QGridLayout:
    grid = QtWidgets.QGridLayout()
    for i, action in enumerate(actions):
        button = QtWidgets.QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        grid.addWidget(button, i // TOOL_COLUMNS, i % TOOL_COLUMNS)
    return grid
