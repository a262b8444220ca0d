"""The model's people stored as predictions: once per image, model and settings (never
doubled, also after undo/redo and reopening), no undo step, user people kept, replaced by
an imported COCO file."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
from PySide6 import QtCore

from personlab_gui.core.project import Project
from personlab_gui.core.data.pseudo_labels import LABEL
from personlab_gui.gui.layers.people import SHOW_CHOICES
from personlab_gui.gui.predictions import settings_record

from .conftest import RESULT_TIMEOUT_MS
from .test_editing import image_folder, key, open_project, trigger

CTRL = QtCore.Qt.KeyboardModifier.ControlModifier


def wait_for_predictions(qtbot, editor, image_id: int) -> dict:
    """The document's people once the model's predictions for ``image_id`` are stored."""
    qtbot.waitUntil(lambda: editor.doc.image_id == image_id
                    and any(p.provenance == "predicted" for p in editor.doc.people.values()),
                    timeout=RESULT_TIMEOUT_MS)
    return dict(editor.doc.people)


def rows(project: Project, image_id: int) -> list[tuple]:
    """What the file holds for an image's people: id, provenance, keypoints."""
    return [(i, p.provenance, p.keypoints.tobytes()) for i, p in project.people(image_id).items()]


def test_predictions_are_stored_once_and_are_no_undo_step(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 2), run_model=True)
    doc, project = editor.doc, editor.doc.project
    first, second = project.image_ids()
    wait_for_predictions(qtbot, editor, first)
    stored = rows(project, first)
    assert editor.stack.count() == 0                                   # a first visit adds no history
    key(window, QtCore.Qt.Key.Key_Z, CTRL)                             # Ctrl+Z on a fresh image
    assert doc.image_id == first and rows(project, first) == stored

    trigger(window, "next")
    wait_for_predictions(qtbot, editor, second)
    key(window, QtCore.Qt.Key.Key_Z, CTRL)
    assert doc.image_id == second and editor.stack.count() == 0        # undo never jumps because of it
    trigger(window, "previous")
    qtbot.waitUntil(lambda: window.session.result is not None and doc.image_id == first, timeout=RESULT_TIMEOUT_MS)
    editor._store_predictions(window.session.result)                  # the same result again: no change
    assert rows(project, first) == stored

    model, settings = window.service.engine.model_name, settings_record(window.service.settings)
    assert doc.replace_predictions([], model, settings) is None       # the store itself refuses a second run
    path = project.path
    doc.close_project()
    with Project.open(path) as reopened:
        assert rows(reopened, first) == stored
        assert not reopened.wants_predictions(first, model, settings)
        assert reopened.replace_predictions(first, [], model, settings) is None
        assert rows(reopened, first) == stored


def test_undo_redo_and_user_edits_survive_new_predictions(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1), run_model=True)
    project, stack = editor.doc.project, editor.stack
    (image,) = project.image_ids()
    people = wait_for_predictions(qtbot, editor, image)
    person = next(iter(people))
    editor.selection.select(person)
    key(window, QtCore.Qt.Key.Key_A)                                   # accept it
    for _ in range(2):
        stack.undo()
        stack.redo()
    assert project.person(person).provenance == "accepted" and len(project.people(image)) == len(people)

    lower = dataclasses.replace(window.service.settings, label_threshold=0.0)
    window.service.set_settings(lower)                                 # new settings: new predictions
    model = window.service.engine.model_name
    qtbot.waitUntil(lambda: not project.wants_predictions(image, model, settings_record(lower)),
                    timeout=RESULT_TIMEOUT_MS)
    now = project.people(image)
    assert now[person].provenance == "accepted"                       # the user's person stays
    assert all(i not in now for i in people if i != person)           # the old predictions went
    accepted = now[person].keypoints
    for other in now.values():                                        # and nothing duplicates it
        if other.provenance == "predicted":
            assert not np.allclose(other.keypoints[:, :2], accepted[:, :2], atol=2.0)
    stack.undo()                                                      # the acceptance, not the predictions
    assert project.person(person).provenance == "predicted" and list(project.people(image)) == list(now)


def test_redo_of_replaced_predictions_is_dropped(qtbot, window, tmp_path):
    editor = open_project(qtbot, window, tmp_path, image_folder(tmp_path, 1), run_model=True)
    doc, stack = editor.doc, editor.stack
    (image,) = doc.project.image_ids()
    person = next(iter(wait_for_predictions(qtbot, editor, image)))
    editor.selection.select(person, 0)
    trigger(window, "visibility_1")                                   # an edit...
    stack.undo()                                                      # ...undone: its redo names a prediction
    assert stack.canRedo()
    window.settings_panel.thresholds["label_threshold"].setValue(0.01)   # the setting, as the user sets it
    window.settings_panel.apply()
    assert window.prefs.inference_settings().label_threshold == 0.01
    qtbot.waitUntil(lambda: person not in doc.people, timeout=RESULT_TIMEOUT_MS)
    assert not stack.canRedo() and stack.count() == 0                 # no redo of a person that is gone


def _ground_truth_file(tmp_path, project: Project, image: int):
    """A COCO file with one person (a labelled nose) on the project image ``image``."""
    record = project.image(image)
    keypoints = np.zeros((17, 3))
    keypoints[0] = (100, 80, 2)
    coco = {"images": [{"id": 7, "file_name": record.path, "width": record.width, "height": record.height}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "keypoints": keypoints.ravel().tolist(),
                             "num_keypoints": 1, "bbox": [90, 70, 20, 20], "area": 400, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person"}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    return path


def test_imported_ground_truth_replaces_predictions(qtbot, window, tmp_path):
    folder = image_folder(tmp_path, 1)
    editor = open_project(qtbot, window, tmp_path, folder, run_model=True)
    doc, project = editor.doc, editor.doc.project
    (image,) = project.image_ids()
    wait_for_predictions(qtbot, editor, image)
    path = _ground_truth_file(tmp_path, project, image)
    assert editor.files.import_coco(str(path), str(folder))
    assert [p.provenance for p in doc.people.values()] == ["manual"]
    assert [p.provenance for p in project.people(image).values()] == ["manual"]
    model, settings = window.service.engine.model_name, settings_record(window.service.settings)
    assert not project.wants_predictions(image, model, settings)     # the model's people stay out
    editor._store_predictions(window.session.result)
    assert [p.provenance for p in project.people(image).values()] == ["manual"]


def test_candidates_are_shown_on_demand_and_never_accepted(qtbot, window, tmp_path, people_image):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(people_image, folder / people_image.name)
    editor = open_project(qtbot, window, tmp_path, folder, run_model=True)
    doc, project = editor.doc, editor.doc.project
    (image,) = project.image_ids()
    wait_for_predictions(qtbot, editor, image)
    result = window.session.result
    labels = [j for j, verdict in enumerate(result.label_verdicts) if verdict == LABEL]
    candidates = [j for j in range(len(result.people)) if j not in labels]
    assert labels and candidates                                     # the model found both
    assert len(doc.people) == len(labels)                            # only labels are stored

    layer = window.layers["people"]
    layer.visible = True
    for show, expected in (("confident", labels), ("candidates", candidates), ("all", labels + candidates)):
        layer.set_option("show", SHOW_CHOICES.index(show))
        assert sorted(layer.drawn_people(result)) == sorted(expected)
    combo = window.inspector.person_combo                           # the inspector names each one's verdict
    texts = [combo.itemText(j + 1) for j in range(len(result.people))]
    assert all(text.endswith(verdict) for text, verdict in zip(texts, result.label_verdicts, strict=True))

    key(window, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ShiftModifier)   # accept all
    assert project.count_people() == {"predicted": 0, "accepted": len(labels), "edited": 0, "manual": 0}


def test_undo_and_redo_after_an_import_replaced_the_predictions_they_edit(qtbot, window, tmp_path):
    """Found by the soak test: an undone edit of a prediction, then an import that replaces
    the predictions, then redo -> KeyError. The import now ends the undo history."""
    folder = image_folder(tmp_path, 1)
    editor = open_project(qtbot, window, tmp_path, folder, run_model=True)
    doc, stack = editor.doc, editor.stack
    (image,) = doc.project.image_ids()
    person = next(iter(wait_for_predictions(qtbot, editor, image)))
    editor.selection.select(person, 0)
    trigger(window, "visibility_1")                # an edit of a prediction, undone: its redo names it
    stack.undo()
    assert stack.canRedo() and doc.people[person].provenance == "predicted"
    assert editor.files.import_coco(str(_ground_truth_file(tmp_path, doc.project, image)), str(folder))
    assert person not in doc.people and stack.count() == 0
    trigger(window, "redo")
    trigger(window, "undo")
    assert [p.provenance for p in doc.people.values()] == ["manual"]
