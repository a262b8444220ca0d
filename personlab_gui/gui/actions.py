"""Window actions made in one way: text, shortcuts, tool tip, the slot, and registered by
name on the window (its shortcuts dialog lists every registered action).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtGui, QtWidgets


def make_action(window: QtWidgets.QMainWindow, name: str, text: str, keys: str | Sequence[str] | None,
                slot: Callable[[], object], tip: str = "") -> QtGui.QAction:
    """A window-wide action, also reachable as ``window.actions_by_name[name]``."""
    action = QtGui.QAction(text, window)
    keys = [keys] if isinstance(keys, str) else list(keys or [])
    action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
    action.setToolTip(tip or text.replace("&", "").rstrip("…"))
    action.triggered.connect(lambda _=False: slot())
    window.addAction(action)
    window.actions_by_name[name] = action
    return action
