"""Window actions made in one way: text, shortcuts, tool tip, the slot, and registered by
name in the window's ``ActionRegistry`` (its shortcuts dialog lists every registered action).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtGui, QtWidgets

Keys = str | QtGui.QKeySequence.StandardKey | Sequence[str] | None


class ActionRegistry(dict[str, QtGui.QAction]):
    """The named actions of one window; each is added to ``widget`` (the window), so its
    shortcut works wherever the focus is in it."""

    def __init__(self, widget: QtWidgets.QWidget) -> None:
        super().__init__()
        self.widget = widget


def make_action(actions: ActionRegistry, name: str, text: str, keys: Keys,
                slot: Callable[[], object], tip: str = "") -> QtGui.QAction:
    """A window-wide action, also reachable as ``actions[name]``."""
    action = QtGui.QAction(text, actions.widget)
    keys = [keys] if isinstance(keys, (str, QtGui.QKeySequence.StandardKey)) else list(keys or [])
    action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
    action.setToolTip(tip or text.replace("&", "").rstrip("…"))
    action.triggered.connect(lambda _=False: slot())
    actions.widget.addAction(action)
    actions[name] = action
    return action
