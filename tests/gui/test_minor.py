"""The smaller defects a new user met: failure marks that vanished from the image list, a
trace list that did not highlight its step, a status bar whose brush radius went stale,
arrows and keypoints drawn outside the image, the last zoom carried over to the next image,
a truncated JPEG accepted into a project while the viewer refuses it; Python's garbage
collector run from a worker thread (a deadlock with Qt)."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from personlab_gui.core.errors import ImageLoadError
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.project import Project
from personlab_gui.gui.layers.extent import clip_arrows, inside_image
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


def test_the_status_bar_brush_radius_follows_the_field(qtbot, window):
    editor = window.editor
    trigger(window, "tool_brush")
    radius = editor.panel.radius
    assert f"Radius {radius.value()} px" in window.status.currentMessage()
    radius.setValue(38)                                      # typed into the field
    assert editor.brush.radius == 38 and "Radius 38 px" in window.status.currentMessage()
    trigger(window, "brush_larger")
    assert radius.value() == editor.brush.radius == 48
    assert "Radius 48 px" in window.status.currentMessage()
    trigger(window, "tool_eraser")
    radius.setValue(20)
    assert "Radius 20 px" in window.status.currentMessage()
    trigger(window, "tool_keypoints")
    radius.setValue(30)                                      # other tools keep their own line
    assert "Radius" not in window.status.currentMessage()


def test_clip_arrows_cuts_at_the_image_border():
    origins = np.array([[10.0, 10.0], [5.0, 5.0], [-3.0, 4.0], [29.0, 19.0]])
    tips = np.array([[50.0, 10.0], [5.0, -20.0], [10.0, 4.0], [20.0, 10.0]])
    kept, cut = clip_arrows(origins, tips, (20, 30))          # H x W
    np.testing.assert_allclose(kept, origins[[0, 1, 3]])        # the one starting outside is gone
    np.testing.assert_allclose(cut, [[29.5, 10.0], [5.0, -0.5], [20.0, 10.0]])


def _arrow_ends(layer) -> np.ndarray:
    """(n, 2, 2) origin and tip of every arrow the layer draws."""
    return np.column_stack([layer.arrows.xData, layer.arrows.yData]).reshape(-1, 6, 2)[:, :2]


def test_arrows_and_keypoints_stay_on_the_image(qtbot, window, people_image):
    result = open_and_wait(qtbot, window, people_image)
    h, w = result.image_hw
    window.canvas.view.setRange(QtCore.QRectF(-w, -h, 3 * w, 3 * h), padding=0)   # the padding in view
    drawn = 0
    for key in ("short", "mid", "long"):
        layer = window.layers[key]
        if not layer.applies_to(window.service.engine.trained_heads):
            continue
        layer.set_option("keypoint" if key != "mid" else "edge", 0)
        window.layers_panel.rows[key].check.setChecked(True)
        ends = _arrow_ends(layer)
        drawn += len(ends)
        assert np.all(inside_image(ends.reshape(-1, 2), (h, w))), key
    assert drawn > 0
    points = window.layers["people"].keypoints_item.data
    xy = np.column_stack([points["x"], points["y"]])
    assert len(xy) and np.all(inside_image(xy, (h, w)))


def _target(window) -> tuple[float, ...]:
    rect = window.canvas.view.targetRect()
    return rect.left(), rect.top(), rect.width(), rect.height()


def test_a_new_image_is_shown_whole_not_at_the_last_zoom(qtbot, window, example_image, other_image, tmp_path):
    open_and_wait(qtbot, window, example_image)
    fitted = _target(window)
    window.canvas.zoom(4.0)
    assert _target(window) != fitted
    open_and_wait(qtbot, window, other_image)                 # the same size: no refit before
    np.testing.assert_allclose(_target(window), fitted)
    third = tmp_path / "third.png"                            # a view picked while an image loads is kept
    third.write_bytes(other_image.read_bytes())
    window.open_paths([str(third)])
    assert window.canvas.image_layer.image is None
    person = QtCore.QRectF(100, 100, 80, 120)
    window.canvas.view.setRange(person, padding=0)
    qtbot.waitUntil(lambda: window.canvas.image_layer.image is not None, timeout=RESULT_TIMEOUT_MS)
    np.testing.assert_allclose(_target(window), (100, 100, 80, 120))


def test_a_truncated_jpeg_the_viewer_refuses_is_not_added_to_a_project(qtbot, window, shared_data, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    photo = shared_data / "coco_dev" / "val" / "images" / "000000000139.jpg"
    (folder / "whole.jpg").write_bytes(photo.read_bytes())
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(truncated)                                 # what the viewer says
    with Project.create(tmp_path / "direct.plab", folder) as project:
        with pytest.raises(ImageLoadError, match="truncated.jpg: corrupt or truncated"):
            project.add_images([truncated])
        assert project.count_images() == 0
    assert window.editor.files.create(str(tmp_path / "p.plab"), str(folder))
    assert "1 unreadable files skipped" in window.status.currentMessage()
    assert [Path(p).name for p in window.session.paths] == ["whole.jpg"]


def test_garbage_is_collected_only_in_the_gui_thread(qtbot):
    """A collection started in a worker thread could free dead Qt widgets there and
    deadlock against the GUI thread; the app collects on a GUI-thread timer instead."""
    assert not gc.isenabled()
    threads: list[str] = []
    callback = lambda phase, info: threads.append(threading.current_thread().name)  # noqa: E731
    gc.callbacks.append(callback)
    allocated: list[list] = []

    def allocate() -> bool:   # keeps the young generation past its threshold until a collection
        allocated.extend([] for _ in range(gc.get_threshold()[0]))
        return bool(threads)

    try:
        worker = threading.Thread(target=lambda: [[] for _ in range(20 * gc.get_threshold()[0])], name="worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(allocate, timeout=5000)   # the GUI thread's timer collects within a second
    finally:
        gc.callbacks.remove(callback)
    assert threads and set(threads) == {threading.main_thread().name}
