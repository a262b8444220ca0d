"""Correcting labels: edits through the real window (mouse and keys on the canvas), undo
and redo, what the ``.plab`` file holds afterwards, predictions and the review queue.

Most tests stop the model (``service.cancel()`` right after the project opens) so that
no predictions arrive in the middle of their edits; the predictions test waits for them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from PySide6.QtTest import QTest

from personlab_gui.core.inference.engine import InferenceSettings
from personlab_gui.core.project import PersonRecord, Project
from personlab_gui.core.skeleton import K
from personlab_gui.gui.app import EXAMPLE_IMAGE
from personlab_gui.gui.commands import AddPerson, DeletePerson, MoveKeypoint
from personlab_gui.gui.document import Document
from personlab_gui.gui.layers.mask_overlay import MaskOverlay
from personlab_gui.gui.predictions import settings_record
from personlab_gui.gui.selection import Selection
from personlab_gui.gui.tools import ToolContext
from personlab_gui.gui.tools.brush import BrushTool
from personlab_gui.gui.tools.brush_settings import BrushSettings

from .conftest import RESULT_TIMEOUT_MS
from .synthetic import IMAGE_HW, KEYPOINTS, make_result

LEFT = QtCore.Qt.MouseButton.LeftButton
#: pyqtgraph drops mouse moves closer than 10 ms apart (its rate limit).
MOVE_INTERVAL_MS = 15


# -- helpers ---------------------------------------------------------------------------
def image_folder(tmp_path: Path, count: int) -> Path:
    """``count`` images: the astronaut, mirrored, upside down."""
    folder = tmp_path / "images"
    folder.mkdir()
    image = cv2.imread(str(EXAMPLE_IMAGE))
    for i, variant in enumerate([image, image[:, ::-1], image[::-1]][:count]):
        cv2.imwrite(str(folder / f"img{i}.png"), variant)
    return folder


def open_project(qtbot, window, tmp_path: Path, folder: Path, run_model: bool = False):
    """A new project over ``folder``, its first image shown; the model stopped unless asked."""
    editor = window.editor
    assert editor.files.create(str(tmp_path / "labels.plab"), str(folder))
    if not run_model:
        window.service.cancel()
    qtbot.waitUntil(lambda: window.session.image is not None, timeout=RESULT_TIMEOUT_MS)
    return editor


def stored(tmp_path: Path, person: int) -> PersonRecord:
    """The person as the .plab file holds it (read through a second connection)."""
    with Project.open(tmp_path / "labels.plab") as project:
        return project.person(person)


def screen(window, xy) -> QtCore.QPoint:
    canvas = window.canvas
    return canvas.mapFromScene(canvas.view.mapViewToScene(QtCore.QPointF(*xy)))


def click(window, xy) -> None:
    click_device(window, screen(window, xy))


def click_device(window, point: QtCore.QPoint) -> None:
    """A left click at a viewport pixel of the canvas."""
    QTest.mouseClick(window.canvas.viewport(), LEFT, QtCore.Qt.KeyboardModifier.NoModifier, point)


def drag(qtbot, window, points) -> None:
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, LEFT, QtCore.Qt.KeyboardModifier.NoModifier, screen(window, points[0]))
    for xy in points[1:]:
        qtbot.wait(MOVE_INTERVAL_MS)
        QTest.mouseMove(viewport, screen(window, xy))
    QTest.mouseRelease(viewport, LEFT, QtCore.Qt.KeyboardModifier.NoModifier, screen(window, points[-1]))


def key(window, qt_key: QtCore.Qt.Key, modifiers=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    window.activateWindow()
    QTest.keyClick(window, qt_key, modifiers)


def trigger(window, name: str) -> None:
    window.actions_by_name[name].trigger()


def manual_person(editor, keypoints: dict[int, tuple[float, float]]) -> int:
    points = np.zeros((K, 3))
    for k, xy in keypoints.items():
        points[k] = (*xy, 2)
    command = AddPerson(editor.doc, PersonRecord(points))
    editor.stack.push(command)
    editor.selection.select(command.person_id)
    return command.person_id


# -- keypoints -------------------------------------------------------------------------
def test_keypoint_drag_and_visibility_undo_redo_and_reopen(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1))
    stack = editor.stack
    trigger(window, "tool_add_person")
    for xy in [(200, 100), (212, 90), (188, 90)]:           # nose, left eye, right eye
        click(window, xy)
    person = editor.selection.person
    keypoints = stored(tmp_path, person).keypoints
    assert np.allclose(keypoints[:3, :2], [(200, 100), (212, 90), (188, 90)], atol=1.0)
    assert (keypoints[:3, 2] == 2).all() and (keypoints[3:, 2] == 0).all() and stack.count() == 3

    trigger(window, "tool_keypoints")
    drag(qtbot, window, [(200, 100), (210, 108), (220, 116), (230, 125)])
    assert stack.count() == 4 and stack.text(3) == "Move nose"             # the drag: ONE step
    assert np.allclose(stored(tmp_path, person).keypoints[0], (230, 125, 2), atol=1.0)
    key(window, QtCore.Qt.Key.Key_1)                                      # the dragged nose: occluded
    assert stored(tmp_path, person).keypoints[0, 2] == 1 and stack.count() == 5

    stack.undo()
    assert stored(tmp_path, person).keypoints[0, 2] == 2
    stack.undo()
    assert np.allclose(stored(tmp_path, person).keypoints[0], (200, 100, 2), atol=1.0)
    stack.redo()
    stack.redo()
    after = stored(tmp_path, person)
    assert np.allclose(after.keypoints[0], (230, 125, 1), atol=1.0) and after.provenance == "manual"

    editor.doc.close_project()                                            # saved already: reopen
    assert editor.files.open(str(tmp_path / "labels.plab"))
    assert np.array_equal(editor.doc.people[person].keypoints, after.keypoints)


def test_undo_brings_a_deleted_person_back_under_its_old_id(qtbot, tmp_path):
    doc, stack = Document(), QtGui.QUndoStack()
    folder = image_folder(tmp_path, 1)
    doc.open_project(Project.create(tmp_path / "labels.plab", folder))
    doc.set_image(doc.project.add_images([folder / "img0.png"])[0])
    add = AddPerson(doc, PersonRecord(np.tile([10.0, 20.0, 2.0], (K, 1))))
    stack.push(add)
    person = add.person_id
    stack.push(MoveKeypoint(doc, person, 0, np.array([50.0, 60.0]), drag=1))
    stack.push(DeletePerson(doc, person))
    stack.undo()                                   # back, under a new project id
    assert person not in doc.people and doc.resolve(person) in doc.people
    stack.undo()                                   # the move, made on the old id, still applies
    assert np.allclose(doc.person(person).keypoints[0], (10, 20, 2))
    stack.redo()
    stack.redo()
    assert not doc.people and doc.project.count_people()["manual"] == 0
    doc.close_project()


# -- masks -----------------------------------------------------------------------------
def test_paint_and_erase_each_stroke_is_one_undo_step(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1))
    stack = editor.stack
    person = manual_person(editor, {0: (250, 250)})
    editor.brush.set_radius(10)
    trigger(window, "tool_brush")
    drag(qtbot, window, [(150, 300), (200, 300), (250, 300), (300, 300)])
    assert stack.count() == 2 and stack.text(1) == "Brush stroke"
    painted = stored(tmp_path, person).mask()
    assert painted[300, 150:301].all() and painted[291:310, 200].all() and not painted[320, 200]
    assert editor.overlay.texture.pixels[300, 200, 3] > 0                 # drawn in the overlay

    trigger(window, "tool_eraser")
    drag(qtbot, window, [(200, 270), (200, 300), (200, 330)])
    assert stack.count() == 3 and stack.text(2) == "Erase stroke"
    erased = stored(tmp_path, person).mask()
    assert not erased[300, 200] and erased[300, 150] and erased.sum() < painted.sum()

    stack.undo()
    assert np.array_equal(stored(tmp_path, person).mask(), painted)
    stack.undo()
    assert stored(tmp_path, person).mask_rle is None
    stack.redo()
    stack.redo()
    assert np.array_equal(stored(tmp_path, person).mask(), erased)

    editor.doc.close_project()
    assert editor.files.open(str(tmp_path / "labels.plab"))
    assert np.array_equal(editor.doc.mask(person), erased)


def test_brushing_a_large_image_repaints_only_the_touched_region(qtbot, tmp_path):
    folder = tmp_path / "large"
    folder.mkdir()
    cv2.imwrite(str(folder / "large.jpg"), np.full((3000, 4000, 3), 90, np.uint8))
    doc, stack = Document(), QtGui.QUndoStack()
    selection = Selection(doc)
    overlay = MaskOverlay(doc, selection)
    doc.open_project(Project.create(tmp_path / "labels.plab", folder))
    doc.set_image(doc.project.add_images([folder / "large.jpg"])[0])
    ctx = ToolContext(doc, stack, selection, overlay, BrushSettings(), pg.ViewBox(), lambda: None,
                      lambda: 1.0, lambda text: None, lambda: None, lambda xy: None)
    stack.push(AddPerson(doc, PersonRecord(np.zeros((K, 3)))))
    selection.select(next(iter(doc.people)))
    touched, resized = [], []
    overlay.texture.touch = touched.append
    overlay.texture.resize = resized.append
    brush = BrushTool(ctx)
    start = time.perf_counter()
    brush.drag_start(np.array([1000.0, 1000.0]))
    for i in range(1, 40):
        brush.drag_move(np.array([1000.0 + 10 * i, 1000.0 + 3 * i]))
    brush.drag_end(np.array([1400.0, 1120.0]))
    per_dab = (time.perf_counter() - start) / 40
    assert stack.count() == 2 and not resized                             # one step, no full re-upload
    *dabs, stroke = touched                                                # then the stroke's box, once
    assert max((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in dabs) < 60 * 60
    assert stroke == (987, 987, 1414, 1134)
    assert overlay.texture.pixels[1060, 1200, 3] > 0 and overlay.texture.pixels[500, 500, 3] == 0
    assert per_dab < 0.05, f"{per_dab * 1e3:.1f} ms per brush dab on 4000 x 3000"
    doc.close_project()


# -- predictions -----------------------------------------------------------------------
def test_model_people_are_stored_as_predictions_then_accepted(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1), run_model=True)
    qtbot.waitUntil(lambda: bool(editor.doc.people), timeout=RESULT_TIMEOUT_MS)
    doc, model = editor.doc, window.service.engine.model_name
    assert doc.people and all(p.provenance == "predicted" and p.model == model and p.score is not None
                              for p in doc.people.values())
    assert doc.project.count_people()["predicted"] == len(doc.people)
    dashed = QtCore.Qt.PenStyle.DashLine
    assert all(pen.style() == dashed for pen, _ in editor.annotations.skeletons._lines)

    first, *others = doc.people
    editor.selection.select(first)
    key(window, QtCore.Qt.Key.Key_A)
    assert stored(tmp_path, first).provenance == "accepted"
    for second in others[:1]:                                             # editing makes it 'edited'
        editor.selection.select(second, 0)
        trigger(window, "visibility_1")
        assert stored(tmp_path, second).provenance == "edited"

    settings = InferenceSettings(size=window.service.settings.size, min_instance_score=0.001)
    window.service.set_settings(settings)                                 # new settings: new predictions
    qtbot.waitUntil(lambda: not doc.project.wants_predictions(doc.image_id, model, settings_record(settings)),
                    timeout=RESULT_TIMEOUT_MS)                            # (none duplicating user people)
    assert doc.person(first).provenance == "accepted"                     # user people are kept
    key(window, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert doc.project.count_people()["predicted"] == 0
    editor.stack.undo()
    assert doc.project.count_people()["predicted"] > 0


# -- review queue ----------------------------------------------------------------------
def test_review_queue_order(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 3), run_model=True)
    qtbot.waitUntil(lambda: bool(editor.doc.people), timeout=RESULT_TIMEOUT_MS)   # image 1's predictions
    doc, project = editor.doc, editor.doc.project
    ids = project.image_ids()
    model, settings = window.service.engine.model_name, settings_record(window.service.settings)
    labelled = np.column_stack([KEYPOINTS[:, :2], np.full(K, 2)])
    lowest = {}
    for image, score in ((ids[1], 0.002), (ids[2], 0.003)):   # this model's predictions: kept as they are
        lowest[image] = project.replace_predictions(image, [PersonRecord(labelled, score=score)], model, settings)[0]

    key(window, QtCore.Qt.Key.Key_Space)
    assert project.image(ids[0]).reviewed
    trigger(window, "next_unreviewed")
    assert doc.image_id == ids[1] and window.session.current_path.endswith("img1.png")
    key(window, QtCore.Qt.Key.Key_R)
    trigger(window, "next_unreviewed")
    assert doc.image_id == ids[2]
    trigger(window, "next_unreviewed")                         # the only unreviewed one left
    assert doc.image_id == ids[2] and "only unreviewed" in window.status.currentMessage()
    trigger(window, "lowest_score")                            # image 2 is reviewed: skipped
    assert (doc.image_id, editor.selection.person) == (ids[2], lowest[ids[2]])

    editor.stack.undo()                                        # image 2 unreviewed again (shown)
    assert doc.image_id == ids[1] and not project.image(ids[1]).reviewed
    trigger(window, "lowest_score")
    assert (doc.image_id, editor.selection.person) == (ids[1], lowest[ids[1]])
    assert "1/3 reviewed" in window.docks["Images"].windowTitle()


# -- model-assisted --------------------------------------------------------------------
def test_snap_basin_and_regenerated_mask(qtbot, window, tmp_path):
    folder = tmp_path / "synthetic"
    folder.mkdir()
    cv2.imwrite(str(folder / "one.png"), np.full((*IMAGE_HW, 3), 128, np.uint8))
    editor = open_project(qtbot, window, tmp_path, folder)
    result = make_result(with_long=True)
    editor.ctx.result = lambda: result                          # the model's maps for this image
    keypoints = {k: tuple(KEYPOINTS[k, :2]) for k in range(K)}
    keypoints[0] = (KEYPOINTS[0, 0] + 4, KEYPOINTS[0, 1] + 3)
    person = manual_person(editor, keypoints)
    editor.selection.select(person, 0)
    trigger(window, "snap")
    assert np.allclose(editor.doc.person(person).keypoints[0, :2], KEYPOINTS[0, :2], atol=0.5)

    editor.set_tool("basin")
    assert editor.tool.click(np.array([100.0, 80.0]), double=False)
    assert editor.doc.mask(person).sum() == (result.basins >= 0).sum() and editor.stack.text(2) == "Add basin"
    editor.stack.undo()
    assert editor.doc.mask(person) is None

    trigger(window, "regenerate")
    mask = editor.doc.mask(person)
    assert mask is not None and mask[60, 100] and not mask[10, 10] and editor.stack.count() == 3
    assert stored(tmp_path, person).mask_area() == mask.sum()


# -- COCO ------------------------------------------------------------------------------
def test_export_reviewed_and_import_coco(qtbot, window, tmp_path):
    folder = image_folder(tmp_path, 2)
    editor = open_project(qtbot, window, tmp_path, folder)
    manual_person(editor, {0: (250, 250), 5: (280, 300), 6: (220, 300)})
    editor.set_tool("polygon")
    for xy in [(200, 280), (300, 280), (300, 400), (200, 400)]:
        editor.tool.click(np.array(xy, float), double=False)
    trigger(window, "tool_finish")
    assert editor.doc.mask(editor.selection.person).sum() > 10_000
    trigger(window, "toggle_reviewed")
    out = tmp_path / "export.json"
    assert editor.files.export(str(out), reviewed_only=True, rle=True)
    data = json.loads(out.read_text())
    assert len(data["images"]) == 1 and len(data["annotations"]) == 1
    assert isinstance(data["annotations"][0]["segmentation"], dict)        # RLE

    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert not editor.files.import_coco(str(bad), str(folder))
    assert "\n" not in window.status.currentMessage() and "bad.json" in window.status.currentMessage()
    assert editor.files.import_coco(str(out), str(folder))                 # into the same project: added
    assert editor.doc.project.count_people()["manual"] == 2


def test_undo_restores_a_box_the_geometry_does_not_give(qtbot, tmp_path):
    """An imported person's COCO box survives erasing its whole mask, or deleting its last
    keypoint, and the undo of that: undo then redo gives back exactly the same record."""
    from personlab_gui.core.data.rle import box_rle
    from personlab_gui.gui.commands import PaintMask, edit_person

    doc, stack = Document(), QtGui.QUndoStack()
    folder = image_folder(tmp_path, 1)
    doc.open_project(Project.create(tmp_path / "labels.plab", folder))
    image = doc.project.add_images([folder / "img0.png"])[0]
    hw = doc.project.image(image).height, doc.project.image(image).width
    keypoints = np.zeros((K, 3))
    keypoints[0] = (150, 150, 2)
    masked = doc.project.add_person(image, PersonRecord(np.zeros((K, 3)), box_rle(np.ones((20, 30), bool),
                                                                                 (100, 100, 130, 120), hw),
                                                        bbox=(95.0, 90.0, 40.0, 35.0)))
    pointed = doc.project.add_person(image, PersonRecord(keypoints, bbox=(140.0, 130.0, 25.0, 50.0)))
    doc.set_image(image)
    original = {i: doc.project.person(i) for i in (masked, pointed)}
    stack.push(PaintMask(doc, masked, (100, 100, 130, 120), np.zeros((20, 30), bool), "Erase stroke"))
    stack.push(edit_person(doc, pointed, "Delete nose", keypoints=np.zeros((K, 3))))
    edited = {i: doc.project.person(i) for i in (masked, pointed)}
    for _ in range(2):
        stack.undo()
        stack.undo()
        for i in (masked, pointed):
            assert doc.project.person(i).bbox == original[i].bbox
            assert doc.project.person(i).mask_rle == original[i].mask_rle
        stack.redo()
        stack.redo()
        assert all(doc.project.person(i).bbox == edited[i].bbox for i in (masked, pointed))
    doc.close_project()
