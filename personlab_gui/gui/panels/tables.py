"""Read-only text tables, as the inspector and the shortcuts dialog show them."""

from __future__ import annotations

from PySide6 import QtWidgets


def text_table(columns: list[str]) -> QtWidgets.QTableWidget:
    """A compact, read-only table with these column titles."""
    table = QtWidgets.QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def fill_table(table: QtWidgets.QTableWidget, rows: list[tuple[str, ...]]) -> None:
    """Replace the table's rows."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
