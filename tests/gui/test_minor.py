"""The smaller defects a new user met: failure marks that vanished from the image list, a
trace list that did not highlight its step."""

from __future__ import annotations

from PySide6 import QtCore

from personlab_gui.gui.panels.image_list import FAILED_COLOR

from .conftest import RESULT_TIMEOUT_MS, open_and_wait


def trigger(window, name: str) -> None:
    window.actions_by_name[name].trigger()


def _failed(window, row: int) -> bool:
    return window.image_list.list.item(row).foreground().color() == FAILED_COLOR


def test_failure_marks_stay_when_more_files_are_opened(qtbot, window, people_image, other_image, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    window.open_paths([str(broken)])
    qtbot.waitUntil(lambda: _failed(window, 0), timeout=RESULT_TIMEOUT_MS)
    reason = window.image_list.list.item(0).toolTip()
    assert str(broken) in reason and "not an image" in reason
    open_and_wait(qtbot, window, people_image)              # the list is rebuilt with more files
    open_and_wait(qtbot, window, other_image)
    assert window.image_list.list.count() == 3
    assert _failed(window, 0) and window.image_list.list.item(0).toolTip() == reason
    assert not _failed(window, 1) and window.image_list.list.item(1).toolTip() == str(people_image.resolve())


class PaintCounter(QtCore.QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        self.count += event.type() == QtCore.QEvent.Type.Paint
        return False


def test_the_trace_list_highlights_the_current_step(qtbot, window, people_image):
    open_and_wait(qtbot, window, people_image)
    panel = window.trace_panel
    window.docks["Decoding trace"].show()
    qtbot.waitUntil(panel.list.isVisible)
    qtbot.wait(50)
    painted = PaintCounter()
    panel.list.viewport().installEventFilter(painted)
    for step in range(2):
        trigger(window, "trace_next")
        assert window.session.trace_step == step
        assert [i.row() for i in panel.list.selectionModel().selectedIndexes()] == [step]
        assert panel.list.currentIndex().row() == step
        before = painted.count
        qtbot.waitUntil(lambda: painted.count > before)       # the highlight is repainted at once
    trigger(window, "trace_previous")
    assert [i.row() for i in panel.list.selectionModel().selectedIndexes()] == [0]
    panel.list.setCurrentIndex(panel.steps.index(3))        # a click on a row still chooses it
    assert window.session.trace_step == 3
