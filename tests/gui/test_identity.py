"""Issue 9, item 4: a person keeps ONE number and ONE colour everywhere for its whole
life (canvas skeletons and labels, masks, inspector, trace, history, status bar)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6 import QtCore, QtGui

from personlab_gui.core.project import PersonRecord, Project
from personlab_gui.core.decoding.result import Person, TraceEvent
from personlab_gui.core.data.rle import box_rle
from personlab_gui.core.skeleton import K
from personlab_gui.gui.commands import DeletePerson
from personlab_gui.gui.document import Document
from personlab_gui.gui.layers.annotations import AnnotationView
from personlab_gui.gui.layers.mask_overlay import ALPHA, MaskOverlay
from personlab_gui.gui.layers.masks import MasksLayer
from personlab_gui.gui.layers.people import PeopleLayer
from personlab_gui.gui.layers.palette import decoded_label, person_color
from personlab_gui.gui.layers.trace import describe
from personlab_gui.gui.selection import Selection

from .conftest import RESULT_TIMEOUT_MS
from .synthetic import KEYPOINTS, make_result
from .test_editing import click_device, image_folder, key, manual_person, open_project

HW = (240, 320)
CTRL, SHIFT = QtCore.Qt.KeyboardModifier.ControlModifier, QtCore.Qt.KeyboardModifier.ShiftModifier


def three_people(tmp_path: Path) -> tuple[Document, QtGui.QUndoStack]:
    """A project image with three people side by side, each with a keypoint column and a mask."""
    folder = tmp_path / "img"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((*HW, 3), 90, np.uint8))
    doc = Document()
    doc.open_project(Project.create(tmp_path / "labels.plab", folder))
    image = doc.project.add_images([folder / "a.png"])[0]
    for x in (60, 160, 260):
        keypoints = np.column_stack([np.full(K, float(x)), np.linspace(40, 200, K), np.full(K, 2.0)])
        box = (x - 20, 40, x + 20, 200)
        doc.project.add_person(image, PersonRecord(keypoints, box_rle(np.ones((160, 40), bool), box, HW)))
    doc.set_image(image)
    return doc, QtGui.QUndoStack()


def looks(doc: Document, view: AnnotationView, overlay: MaskOverlay) -> dict[int, tuple]:
    """Per person number: its label text, label colour, and the colour its mask is drawn in."""
    labels = {label.owner: label for label in view.skeletons.labels}
    found = {}
    for person_id, person in doc.people.items():
        x = int(person.keypoints[0, 0])
        b, g, r, a = overlay.texture.pixels[120, x].tolist()
        fill = labels[person_id].fill
        found[doc.number(person_id)] = (labels[person_id].text, (fill.red(), fill.green(), fill.blue()), (r, g, b, a))
    return found


def test_delete_and_undo_keep_every_number_and_colour(qtbot, tmp_path):
    doc, stack = three_people(tmp_path)
    selection = Selection(doc)
    view, overlay = AnnotationView(doc, selection), MaskOverlay(doc, selection)
    view.redraw()
    overlay.redraw()
    before = looks(doc, view, overlay)
    first, middle, last = doc.people
    for number, (text, label_rgb, mask_bgra) in before.items():    # mask and skeleton: the same colour
        assert text.startswith(f"#{number} ") and label_rgb == person_color(number)
        assert mask_bgra == (*(round(c * ALPHA / 255) for c in person_color(number)), ALPHA)

    stack.push(DeletePerson(doc, middle))
    assert stack.text(0) == f"Delete person #{middle}"
    after_delete = looks(doc, view, overlay)
    assert after_delete == {n: v for n, v in before.items() if n != middle}   # nobody recoloured
    stack.undo()                                                             # back under a new id
    assert middle not in doc.people and doc.number(doc.resolve(middle)) == middle
    assert looks(doc, view, overlay) == before
    stack.redo()
    stack.undo()                                                             # and again
    assert looks(doc, view, overlay) == before and stack.text(0) == f"Delete person #{middle}"
    doc.close_project()


def test_viewer_masks_only_for_the_people_drawn_in_their_colour(qtbot):
    result = make_result(with_long=True)
    low = Person(keypoints=KEYPOINTS.copy(), score=0.001, mask=np.zeros(result.image_hw, bool))
    low.mask[10:20, 10:20] = True                                   # a low-score candidate's mask
    low.mask[60, 100] = True                                        # ... over the real person
    result.people.append(low)
    assert list(result.label_verdicts)[1] != list(result.label_verdicts)[0]
    layer = MasksLayer()
    layer.visible = True
    rgba = layer.rgba(result)
    assert (rgba[15, 15] == 0).all()                                # the hidden candidate: no mask
    assert tuple(rgba[60, 100, :3]) == person_color(0)              # the person's own colour on top


def test_with_a_project_decoded_people_take_their_prediction_number_and_colour(qtbot):
    result = make_result(with_long=True)
    people, masks = PeopleLayer(), MasksLayer()
    masks.visible = True
    for layer in (people, masks):
        layer.update(result)
        layer.set_numbers({0: 17})
    (label,) = people.skeletons.labels
    assert label.text.startswith("#17 ") and label.owner == 0
    assert (label.fill.red(), label.fill.green(), label.fill.blue()) == person_color(17) != person_color(0)
    assert tuple(masks.rgba(result)[60, 100, :3]) == person_color(17)
    assert masks.probe(np.array([100.0, 60.0])) == [("mask", "#17")]


def test_trace_names_dropped_people_and_project_numbers():
    result = make_result()
    event = TraceEvent("nms_reject", 0, -1, 10.0, 10.0, 0.3)
    assert "#-1" not in describe(event, result.transform) and "dropped" in describe(event, result.transform)
    seed = TraceEvent("seed", 0, 0, 10.0, 10.0, 0.5)
    assert describe(seed, result.transform).startswith("seed person #0:")
    assert describe(seed, result.transform, {0: 17}).startswith("seed person #17:")
    assert decoded_label(3, {0: 17}) == "candidate 3 (not stored)"


def test_window_one_number_everywhere_label_click_and_status_count(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1), run_model=True)
    doc = editor.doc
    qtbot.waitUntil(lambda: bool(doc.people) and editor.result() is not None, timeout=RESULT_TIMEOUT_MS)
    predicted = next(iter(doc.people))
    number = doc.number(predicted)
    combo = window.inspector.person_combo
    entries = [combo.itemText(i) for i in range(1, combo.count())]
    assert any(entry.startswith(f"#{number} ") for entry in entries), entries     # the inspector's name
    assert window.trace_panel.steps.stringList() and not any(
        "#-1" in line for line in window.trace_panel.steps.stringList())
    assert window.status.people.text() == f"people: {len(doc.people)} labelled"

    added = manual_person(editor, {0: (120, 90), 5: (140, 150), 6: (100, 150)})
    assert window.status.people.text() == f"people: {len(doc.people)} labelled"
    key(window, QtCore.Qt.Key.Key_Z, CTRL)                                        # the count follows undo
    assert window.status.people.text() == f"people: {len(doc.people)} labelled" and added not in doc.people
    key(window, QtCore.Qt.Key.Key_Z, CTRL | SHIFT)
    assert window.status.people.text() == f"people: {len(doc.people)} labelled"

    editor.selection.select(None)
    window.canvas.fit()
    window.grab()
    labels = {label.owner: label for label in editor.annotations.skeletons.labels}
    target = labels[doc.resolve(added)]
    assert target.text.startswith(f"#{doc.number(added)} ")
    skeletons = editor.annotations.skeletons
    centre = skeletons._label_box(target, skeletons.deviceTransform_()).center()
    click_device(window, QtCore.QPoint(round(centre.x()), round(centre.y())))
    assert editor.selection.person == doc.resolve(added)                          # the label's person
    assert f"Person #{doc.number(added)}:" in editor.panel.info.text()
