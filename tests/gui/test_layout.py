"""The window fits a 1366 x 768 laptop screen with every dock and tab shown, and the
mouse wheel changes only the control the user focused (elsewhere it scrolls)."""

from __future__ import annotations

import itertools

from PySide6 import QtCore, QtGui, QtWidgets

from personlab_gui.gui.widgets import WHEEL_CONTROLS

#: The largest minimum size that leaves a 1366 x 768 screen room for a taskbar and a title bar.
MAX_MINIMUM = QtCore.QSize(1280, 680)
LAPTOP = QtCore.QSize(1366, 768)


def _fits(size: QtCore.QSize) -> bool:
    return size.width() <= MAX_MINIMUM.width() and size.height() <= MAX_MINIMUM.height()


def _show_every_dock(window) -> list[QtWidgets.QDockWidget]:
    docks = list(window.docks.values())
    for dock in docks:
        dock.setFloating(False)
        dock.show()
    return docks


def test_the_window_and_each_tab_fit_a_laptop_screen(qtbot, window):
    _show_every_dock(window)
    window.training.form.distillation.setChecked(True)   # the form's widest state
    tabs = window.training_page.tabs
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        qtbot.wait(10)
        assert _fits(tabs.widget(index).minimumSizeHint()), tabs.tabText(index)
        assert _fits(window.minimumSizeHint()), (tabs.tabText(index), window.minimumSizeHint())
    tabs.setCurrentIndex(0)
    for name, dock in window.docks.items():
        assert _fits(dock.minimumSizeHint()), name


def test_resizing_to_1366x768_shows_every_dock_whole(qtbot, window):
    window.training_page.tabs.setCurrentIndex(0)
    docks = _show_every_dock(window)
    window.resize(LAPTOP)
    qtbot.waitUntil(lambda: window.size() == LAPTOP)
    qtbot.wait(50)
    frame = window.rect()
    shown = [dock for dock in docks if not dock.visibleRegion().isEmpty()]    # tabified ones share a place
    assert {dock.windowTitle().split(" (")[0] for dock in shown} >= {"Images", "Layers", "Decoding trace"}
    for dock in shown:
        geometry = dock.geometry()
        assert frame.contains(geometry), dock.windowTitle()
        hint = dock.minimumSizeHint()
        assert geometry.width() >= hint.width() and geometry.height() >= hint.height(), dock.windowTitle()
    for a, b in itertools.combinations(shown, 2):
        assert not a.geometry().intersects(b.geometry()), (a.windowTitle(), b.windowTitle())
    canvas = window.canvas
    assert canvas.width() >= 400 and canvas.height() >= 400


def _wheel(widget: QtWidgets.QWidget, notches: int = -1) -> None:
    """A mouse-wheel turn over the middle of ``widget`` (negative: towards the user)."""
    centre = QtCore.QPointF(widget.rect().center())
    event = QtGui.QWheelEvent(centre, QtCore.QPointF(widget.mapToGlobal(centre)), QtCore.QPoint(),
                              QtCore.QPoint(0, 120 * notches), QtCore.Qt.MouseButton.NoButton,
                              QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(widget, event)


def test_the_wheel_over_an_unfocused_combo_scrolls_the_layers_panel(qtbot, window):
    window.resize(LAPTOP)
    panel = window.layers_panel
    combo = panel.rows["short"].combos["keypoint"]
    qtbot.waitUntil(combo.isVisible)
    scroll = panel.verticalScrollBar()
    bottom = combo.mapTo(panel.widget(), QtCore.QPoint(0, combo.height())).y()
    scroll.setValue(bottom + 10 - panel.viewport().height())    # the combo at the bottom of the view
    qtbot.waitUntil(lambda: panel.viewport().rect().contains(combo.mapTo(panel.viewport(), combo.rect().center())))
    before = scroll.value()
    assert before < scroll.maximum() and not combo.hasFocus()
    keypoint = combo.currentText()
    _wheel(combo)
    assert combo.currentText() == keypoint == "nose"
    assert window.layers["short"].option("keypoint").value == "nose"
    assert scroll.value() > before                     # the panel scrolled instead

    window.activateWindow()
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    _wheel(combo)                                      # a focused combo still takes the wheel
    assert combo.currentText() != keypoint


def test_every_wheel_control_of_the_window_is_guarded(window):
    controls = [w for w in window.findChildren(QtWidgets.QWidget)
                if isinstance(w, WHEEL_CONTROLS) and not isinstance(w, QtWidgets.QScrollBar)]
    assert len(controls) > 30     # layers, settings, editing, inspector and training controls
    for control in controls:
        assert control.focusPolicy() == QtCore.Qt.FocusPolicy.StrongFocus, control
