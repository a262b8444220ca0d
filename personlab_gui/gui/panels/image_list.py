"""The image list: the session's files by name (full path as tool tip); choosing a row
shows that image; files that failed to load are marked with their one-line error (the
mark stays when the list changes, and goes when the file loads).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..session import Session

FAILED_COLOR = QtGui.QColor(230, 70, 70)


class ImageListPanel(QtWidgets.QWidget):
    """A list view of ``session.paths`` with open buttons."""

    def __init__(self, session: Session, actions: list[QtGui.QAction], parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.failed: dict[str, str] = {}      # path -> why it did not load
        self.list = QtWidgets.QListWidget()
        self.list.currentRowChanged.connect(self._row_chosen)
        buttons = QtWidgets.QHBoxLayout()
        for action in actions:
            button = QtWidgets.QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        session.pathsChanged.connect(self._rebuild)
        session.currentChanged.connect(self._show_current)

    def mark_failed(self, path: str, message: str) -> None:
        """Flag ``path`` as unreadable, with the reason as tool tip."""
        self.failed[path] = message
        self._show_mark(path)

    def mark_loaded(self, path: str) -> None:
        """``path`` loaded: drop its failure mark, if any."""
        if self.failed.pop(path, None) is not None:
            self._show_mark(path)

    def _show_mark(self, path: str) -> None:
        if path in self.session.paths:
            _mark(self.list.item(self.session.paths.index(path)), path, self.failed.get(path))

    def _rebuild(self) -> None:
        with QtCore.QSignalBlocker(self.list):
            self.list.clear()
            for path in self.session.paths:
                item = QtWidgets.QListWidgetItem(Path(path).name)
                _mark(item, path, self.failed.get(path))
                self.list.addItem(item)
            self.list.setCurrentRow(self.session.index)

    def _show_current(self, index: int) -> None:
        with QtCore.QSignalBlocker(self.list):
            self.list.setCurrentRow(index)

    def _row_chosen(self, row: int) -> None:
        if row >= 0:
            self.session.set_index(row)


def _mark(item: QtWidgets.QListWidgetItem, path: str, failure: str | None) -> None:
    """Red with the reason as tool tip when the file failed to load, else plain with its path."""
    item.setData(QtCore.Qt.ItemDataRole.ForegroundRole, FAILED_COLOR if failure else None)
    item.setToolTip(failure or path)
