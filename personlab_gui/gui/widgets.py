"""Small widget helpers the panels share: a wheel guard, so the mouse wheel changes only
the control the user focused (over any other combo box, spin box or slider it scrolls the
enclosing area instead), combo boxes sized for a few characters rather than their longest
item, and a vertical scroll area that lets a dock shrink with the window.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

#: Controls whose value the mouse wheel changes.
WHEEL_CONTROLS = (QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QAbstractSlider)


class WheelGuard(QtCore.QObject):
    """Event filter: a wheel event over an unfocused control goes to the scroll area around
    it (if any) instead of changing the control."""

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() != QtCore.QEvent.Type.Wheel or watched.hasFocus():
            return False
        area = _scroll_area(watched)
        if area is not None:
            QtWidgets.QApplication.sendEvent(area.viewport(), event)
        return True


def _scroll_area(widget: QtWidgets.QWidget) -> QtWidgets.QAbstractScrollArea | None:
    """The nearest scroll area that ``widget`` is inside."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QtWidgets.QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def guard_wheel(root: QtWidgets.QWidget) -> None:
    """Guard every wheel-driven control under ``root`` (and ``root`` itself): a click or Tab
    focuses it, the wheel alone does not, and the wheel changes it only while focused.
    Scroll bars are left alone (scrolling is what they are for)."""
    guard = root.findChild(WheelGuard) or WheelGuard(root)
    controls = [root, *root.findChildren(QtWidgets.QWidget)]
    for widget in controls:
        if isinstance(widget, WHEEL_CONTROLS) and not isinstance(widget, QtWidgets.QScrollBar):
            widget.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
            widget.removeEventFilter(guard)
            widget.installEventFilter(guard)


def compact(combo: QtWidgets.QComboBox, chars: int = 12) -> QtWidgets.QComboBox:
    """Size ``combo`` for ``chars`` characters, not its longest item (a checkpoint path)."""
    combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


class VerticalScroll(QtWidgets.QScrollArea):
    """A frameless scroll area that scrolls only vertically: as wide as its content needs,
    as low as the window wants (the dock or page holding it can shrink)."""

    def __init__(self, widget: QtWidgets.QWidget, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(widget)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QtCore.QSize:
        width = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QtCore.QSize(width + 2 * self.frameWidth(), super().minimumSizeHint().height())

    def sizeHint(self) -> QtCore.QSize:
        hint = self.widget().sizeHint()
        return QtCore.QSize(max(hint.width(), self.minimumSizeHint().width()), hint.height())
