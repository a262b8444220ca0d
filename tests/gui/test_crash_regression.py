"""Issue 9, item 1: the native crash on undo across images, and each of its root causes.

The sequence (a keypoint clicked on image A, Ctrl+M, PgDown to an unvisited image of
another size whose predictions are stored, Ctrl+Z, Ctrl+Z) crashed in libQt6Gui: an undo
command moved the viewer to its image *while it ran*, a cached result arrived at once and
its predictions were pushed onto the undo stack from inside ``QUndoStack::undo``, which
deleted the running command. The same image change also let the mask overlay compose
the new image's people into a texture still sized for the old one.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui

from personlab_gui.core.project import PersonRecord, Project
from personlab_gui.core.data.rle import box_rle
from personlab_gui.core.skeleton import K
from personlab_gui.gui.app import EXAMPLE_IMAGE
from personlab_gui.gui.commands import AddPerson
from personlab_gui.gui.document import Document
from personlab_gui.gui.layers.mask_overlay import MaskOverlay, MaskTexture
from personlab_gui.gui.selection import Selection
from personlab_gui.gui.tools import ToolContext
from personlab_gui.gui.tools.brush import BrushTool
from personlab_gui.gui.tools.brush_settings import BrushSettings
from personlab_gui.gui.tools.polygon import PolygonTool

from .conftest import RESULT_TIMEOUT_MS
from .test_editing import click, key, open_project

CTRL, SHIFT = QtCore.Qt.KeyboardModifier.ControlModifier, QtCore.Qt.KeyboardModifier.ShiftModifier
#: A real photo of another size than the astronaut (512 x 512), if the shared data is there.
COCO_VAL_IMAGE = Path(__file__).resolve().parents[2].parent / "shared/data/coco_dev/val/images/000000368212.jpg"


def two_sizes(tmp_path: Path) -> Path:
    """The astronaut (image A) and a photo of another size (B, sorted after it)."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(EXAMPLE_IMAGE, folder / "a_astronaut.jpg")
    if COCO_VAL_IMAGE.is_file():
        shutil.copy(COCO_VAL_IMAGE, folder / "b_coco.jpg")
    else:
        cv2.imwrite(str(folder / "b_wide.jpg"), cv2.resize(cv2.imread(str(EXAMPLE_IMAGE)), (700, 420)))
    return folder


def settled(editor, window) -> None:
    """The document, the viewer and the overlay agree on the image."""
    doc = editor.doc
    assert editor.overlay.texture.pixels.shape[:2] == doc.image_hw
    assert editor._image_ids[window.session.current_path] == doc.image_id
    stored = doc.project.people(doc.image_id)
    assert stored.keys() == doc.people.keys()
    assert all(np.array_equal(p.keypoints, stored[i].keypoints) and p.mask_rle == stored[i].mask_rle
               and p.provenance == stored[i].provenance for i, p in doc.people.items())


def test_crash_sequence_of_issue_9(qtbot, window, tmp_path):
    """Run the reported sequence several times, each on a fresh project (it crashed 2 of 4)."""
    for run in range(3):
        editor = open_project(qtbot, window, tmp_path / f"run{run}", two_sizes(_fresh(tmp_path / f"run{run}")),
                              run_model=True)
        doc = editor.doc
        qtbot.waitUntil(lambda: any((p.keypoints[:, 2] > 0).any() for p in doc.people.values()),
                        timeout=RESULT_TIMEOUT_MS)
        image_a = doc.image_id
        person = next(i for i, p in doc.people.items() if (p.keypoints[:, 2] > 0).any())
        k = int(np.flatnonzero(doc.people[person].keypoints[:, 2] > 0)[0])
        window.canvas.view.setRange(QtCore.QRectF(-0.5, -0.5, *doc.image_hw[::-1]), padding=0)
        click(window, doc.people[person].keypoints[k, :2])
        assert editor.selection.person == person
        key(window, QtCore.Qt.Key.Key_M, CTRL)                             # regenerate the mask
        assert editor.stack.text(editor.stack.index() - 1) == "Regenerate mask"
        key(window, QtCore.Qt.Key.Key_PageDown)
        qtbot.waitUntil(lambda: doc.image_id != image_a and window.session.result is not None
                        and bool(doc.people), timeout=RESULT_TIMEOUT_MS)  # B's predictions stored
        assert doc.image_hw != (512, 512)                                 # B: another size
        for keys in ([(QtCore.Qt.Key.Key_Z, CTRL)] * 2 + [(QtCore.Qt.Key.Key_Z, CTRL | SHIFT)] * 2
                     + [(QtCore.Qt.Key.Key_Z, CTRL)] * 3):
            key(window, *keys)
            qtbot.wait(20)
            settled(editor, window)
        assert doc.image_id == image_a and editor.stack.index() == 0
        window.grab()                                                        # paint everything once
        doc.close_project()


def _fresh(folder: Path) -> Path:
    folder.mkdir()
    return folder


def test_the_viewer_follows_an_undo_only_after_the_command_ran(qtbot, window, tmp_path):
    """Root cause 1: nothing the image change triggers (a result arriving, predictions
    stored, pushes onto the stack) runs inside a command."""
    editor = open_project(qtbot, window, tmp_path, two_sizes(tmp_path))
    doc, stack = editor.doc, editor.stack
    ids = doc.project.image_ids()
    inside: list[bool] = []

    def listener(_index: int) -> None:   # what prediction storage did: push on an image change
        inside.append(doc.in_command)
        if len(inside) == 1:
            stack.push(AddPerson(doc, PersonRecord(np.tile([5.0, 5.0, 2.0], (K, 1)))))

    for image in ids:
        doc.set_image(image)
        stack.push(AddPerson(doc, PersonRecord(np.tile([30.0, 40.0, 2.0], (K, 1)))))
    window.session.currentChanged.connect(listener)
    stack.undo()                                    # on B: stays
    stack.undo()                                    # back to A: the viewer follows afterwards
    assert doc.image_id == ids[0] and editor._image_ids[window.session.current_path] == ids[1]
    qtbot.waitUntil(lambda: bool(inside))
    assert inside == [False] and editor._image_ids[window.session.current_path] == ids[0]
    manual = [p for p in doc.people.values() if p.provenance == "manual"]
    assert stack.count() == 1 and stack.index() == 1 and len(manual) == 1   # the listener's push
    window.session.currentChanged.disconnect(listener)


def _project_with_masks(tmp_path: Path, sizes: list[tuple[int, int]]) -> tuple[Document, list[int]]:
    """A project of blank images of ``sizes``, each with one person masked at its bottom right."""
    folder = tmp_path / "blank"
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((h, w, 3), 100, np.uint8))
    doc = Document()
    doc.open_project(Project.create(tmp_path / "labels.plab", folder))
    ids = doc.project.add_images(sorted(folder.iterdir()))
    for image, (h, w) in zip(ids, sizes):
        box = (w - 60, h - 60, w, h)
        rle = box_rle(np.ones((60, 60), bool), box, (h, w))
        doc.project.add_person(image, PersonRecord(np.tile([w - 30.0, h - 30.0, 2.0], (K, 1)), rle))
    return doc, ids


def test_mask_overlay_never_composes_into_the_last_images_texture(qtbot, tmp_path):
    """Root cause 2: the selection clears (and restyles) before the overlay hears of the
    new image; the overlay redraws for the new image instead of composing into the old."""
    doc, (small, large) = _project_with_masks(tmp_path, [(300, 200), (500, 420)])
    selection = Selection(doc)
    overlay = MaskOverlay(doc, selection)
    doc.set_image(small)
    selection.select(next(iter(doc.people)))
    doc.set_image(large)                                      # used to raise: could not broadcast
    assert overlay.texture.pixels.shape[:2] == (500, 420)
    assert overlay.texture.pixels[470, 390, 3] > 0 and overlay.texture.pixels[400, 300, 3] == 0
    doc.set_image(small)
    assert overlay.texture.pixels.shape[:2] == (300, 200) and overlay.texture.pixels[280, 180, 3] > 0
    doc.close_project()


def test_unfinished_tool_work_is_dropped_when_the_image_changes(qtbot, tmp_path):
    """Root cause 3: a stroke or polygon begun on one image is never applied to the next."""
    doc, (first, second) = _project_with_masks(tmp_path, [(300, 200), (500, 420)])
    stack, selection = QtGui.QUndoStack(), Selection(doc)
    overlay = MaskOverlay(doc, selection)
    ctx = ToolContext(doc, stack, selection, overlay, BrushSettings(), pg.ViewBox(), lambda: None,
                      lambda: 1.0, lambda text: None, lambda: None, lambda xy: None)
    brush, polygon = BrushTool(ctx), PolygonTool(ctx)
    doc.set_image(first)
    selection.select(next(iter(doc.people)))
    assert brush.drag_start(np.array([50.0, 50.0]))
    for xy in ([10.0, 10.0], [150.0, 10.0], [150.0, 150.0]):
        polygon.click(np.array(xy), double=False)
    doc.set_image(second)
    for tool in (brush, polygon):          # what the editor does on every image change
        tool.reset()
    selection.select(next(iter(doc.people)))
    brush.drag_end(np.array([400.0, 450.0]))
    polygon.finish()
    assert stack.count() == 0 and overlay.texture.pixels.shape[:2] == (500, 420)
    doc.close_project()


def test_a_stroke_or_drag_whose_person_went_away_is_dropped(qtbot, tmp_path):
    """Predictions re-stored when a result arrives (or an undo) may remove the person a
    stroke or keypoint drag is working on: releasing the mouse then changes nothing."""
    from personlab_gui.gui.commands import DeletePerson
    from personlab_gui.gui.tools.keypoints import KeypointTool

    doc, (image,) = _project_with_masks(tmp_path, [(300, 200)])
    stack, selection = QtGui.QUndoStack(), Selection(doc)
    ctx = ToolContext(doc, stack, selection, MaskOverlay(doc, selection), BrushSettings(), pg.ViewBox(),
                      lambda: None, lambda: 1.0, lambda text: None, lambda: None, lambda xy: None)
    brush, keypoints = BrushTool(ctx), KeypointTool(ctx)
    doc.set_image(image)
    person = next(iter(doc.people))
    selection.select(person)
    assert brush.drag_start(np.array([50.0, 50.0]))
    assert keypoints.drag_start(doc.people[person].keypoints[0, :2])
    stack.push(DeletePerson(doc, person))
    brush.drag_end(np.array([80.0, 60.0]))
    keypoints.drag_end(np.array([90.0, 90.0]))
    assert stack.count() == 1 and not doc.people and not doc.project.people(image)
    doc.close_project()


def test_mask_texture_keeps_the_buffer_qt_paints_from(qtbot):
    """The QImage over the overlay's numpy buffer never outlives it: resize twice, collect,
    churn the allocator, then paint and read back the colour written into ``pixels``."""
    texture = MaskTexture()
    for hw in ((40, 30), (64, 48)):
        texture.resize(hw)
    gc.collect()
    _churn = [np.full((64, 48, 4), 255, np.uint8) for _ in range(50)]
    texture.pixels[10:20, 5:15] = (0, 0, 200, 255)                  # premultiplied BGRA: red
    texture.touch((5, 10, 15, 20))
    canvas = QtGui.QImage(48, 64, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(0)
    painter = QtGui.QPainter(canvas)
    texture.paint(painter, _Exposed(QtCore.QRectF(0, 0, 48, 64)))
    painter.end()
    assert QtGui.QColor.fromRgba(canvas.pixel(8, 12)).getRgb() == (200, 0, 0, 255)
    assert canvas.pixel(30, 40) == 0
    del _churn


class _Exposed:
    """The one field of ``QStyleOptionGraphicsItem`` that ``MaskTexture.paint`` reads."""

    def __init__(self, rect: QtCore.QRectF) -> None:
        self.exposedRect = rect


@pytest.fixture(autouse=True)
def _no_pending_timers(qtbot):
    yield
    qtbot.wait(10)   # let the editor's deferred viewer updates run before the window closes
