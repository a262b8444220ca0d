"""The keyboard shortcuts help dialog, listing every action of the window that has one."""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from .panels.tables import fill_table, text_table


def shortcut_rows(actions: list[QtGui.QAction]) -> list[tuple[str, str]]:
    """(key sequence, what it does) for each action with a shortcut."""
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            rows.append((keys, action.toolTip() or action.text().replace("&", "")))
    return rows


class ShortcutsDialog(QtWidgets.QDialog):
    """A read-only table of shortcuts."""

    def __init__(self, actions: list[QtGui.QAction], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = text_table(["key", "action"])
        fill_table(self.table, shortcut_rows(actions))
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(close)
        self.resize(460, 560)
