"""The main window end to end on real images and the real model (input size 257)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from personlab_gui.core.inference.engine import InferenceSettings
from personlab_gui.core.skeleton import KEYPOINT_NAMES
from personlab_gui.gui.layers.arrows import arrow_count
from personlab_gui.gui.layers.people import confident
from personlab_gui.gui.probing import grid_cell

from .conftest import RESULT_TIMEOUT_MS, open_and_wait


def cells(table: QtWidgets.QTableWidget) -> list[tuple[str, ...]]:
    return [tuple(table.item(r, c).text() for c in range(table.columnCount()))
            for r in range(table.rowCount())]


def trigger(window, name: str) -> None:
    window.actions_by_name[name].trigger()


def test_inference_result_is_drawn_and_reported(qtbot, window, people_image):
    result = open_and_wait(qtbot, window, people_image)
    assert result.num_people > 0 and window.service.settings.size == 257
    status = window.status
    assert status.device.text() == "device: CPU"
    labels = int(confident(result).sum())   # the count names what the people layer draws
    assert status.people.text() == f"people: {labels} (+{result.num_people - labels} candidates)"
    assert status.network.text().startswith("network: ") and status.decode.text().endswith(" ms")
    people = window.layers["people"]
    assert people.shown and people.skeletons.segment_count > 0
    assert window.canvas.image_layer.image.shape[:2] == result.image_hw
    assert people_image.name in window.windowTitle()


def test_every_layer_toggles_from_its_shortcut(qtbot, window, people_image):
    open_and_wait(qtbot, window, people_image)
    heads = window.service.engine.trained_heads
    for key, layer in window.layers.items():
        row = window.layers_panel.rows[key]
        assert row.isVisibleTo(window.layers_panel) == layer.applies_to(heads)
        before = layer.visible
        trigger(window, f"layer_{key}")
        assert layer.visible == (not before if layer.applies_to(heads) else before)
        assert row.check.isChecked() == layer.visible
    for key in ("hough", "short", "mid"):           # now on, with something drawn
        layer = window.layers[key]
        assert layer.shown and all(item.isVisible() for item in layer.items)
    assert arrow_count(window.layers["short"].arrows) > 0
    assert len(window.layers["hough"].candidates_item.data) > 0
    # the mask assignment is offered exactly when the model has the mask heads
    assert window.settings_panel.mask_assignment.isVisibleTo(window) == ({"segmentation", "long"} <= set(heads))


def _use_model(qtbot, window, name: str) -> None:
    window.service.load_model(name, "auto")
    qtbot.waitUntil(lambda: window.service.engine.model_name == name, timeout=RESULT_TIMEOUT_MS)


def test_hover_shows_every_visible_map_and_click_probes(qtbot, window, people_image):
    _use_model(qtbot, window, "posenet_mnv1_075")          # pose-only: a click lists vectors
    result = open_and_wait(qtbot, window, people_image)
    window.layers_panel.toggle("short")
    nose = result.people[0].keypoints[0, :2]
    window.canvas.hovered.emit(nose)
    rows = dict(cells(window.inspector.cursor_table))
    row, col = grid_cell(result, nose)
    assert rows["p_k nose"] == f"{result.heatmaps[0, row, col]:.3f}"
    assert rows["pixel"].startswith(f"({round(nose[0])}, {round(nose[1])})")
    assert "S nose" in rows and rows["person #0 nose"].startswith("score")
    window.canvas.clicked.emit(nose)
    probe = window.layers["probe"]
    click = cells(window.inspector.click_table)
    assert arrow_count(probe.arrows) == len(click) >= len(KEYPOINT_NAMES)   # no long-range head
    assert click[0][0] == "S nose"
    assert window.session.person == 0                                       # clicked on its nose
    assert window.inspector.person_score.text() == f"instance score {result.people[0].score:.3f}"


def test_click_on_a_model_with_masks_lists_embedding_distances(qtbot, window, people_image):
    assert {"segmentation", "long"} <= set(window.service.engine.trained_heads)   # the default
    result = open_and_wait(qtbot, window, people_image)
    window.canvas.clicked.emit(result.people[0].keypoints[0, :2])
    click = cells(window.inspector.click_table)
    assert len(click) == len(result.people) and all(r[0].startswith("D to person #") for r in click)


def test_selected_person_lists_its_keypoint_scores(qtbot, window, people_image):
    result = open_and_wait(qtbot, window, people_image)
    window.inspector.person_combo.setCurrentIndex(2)          # person #1
    assert window.session.person == 1 and window.layers["people"].selected == 1
    table = cells(window.inspector.person_table)
    assert [r[0] for r in table] == list(KEYPOINT_NAMES)
    assert [float(r[3]) for r in table] == [round(s, 3) for s in result.people[1].keypoints[:, 2]]


def test_decoding_trace_steps_are_drawn(qtbot, window, people_image):
    result = open_and_wait(qtbot, window, people_image)
    trace, layer = window.trace_panel, window.layers["trace"]
    assert trace.steps.rowCount() == len(result.trace) > 0
    trigger(window, "trace_next")
    assert window.session.trace_step == 0 and result.trace[0].kind == "seed"
    assert trace.title.text() == f"Step 1 / {len(result.trace)}"
    np.testing.assert_allclose(layer.marker.data["x"][0], result.transform.to_image(
        np.array([result.trace[0].x, result.trace[0].y]))[0])
    trace.next.click()
    assert window.session.trace_step == 1 and result.trace[1].kind == "edge"
    assert arrow_count(layer.arrow) == 1
    trigger(window, "trace_previous")
    assert window.session.trace_step == 0 and arrow_count(layer.arrow) == 0
    place = next(i for i, e in enumerate(result.trace) if e.kind == "place")
    trace.list.setCurrentIndex(trace.steps.index(place))
    assert window.session.trace_step == place and " place " in layer.label.textItem.toPlainText()


def test_only_what_changed_is_recomputed(qtbot, window, people_image, other_image):
    calls = []
    engine = window.service.engine
    forward = engine.forward
    engine.forward = lambda *a: calls.append("forward") or forward(*a)
    first = open_and_wait(qtbot, window, people_image)
    assert calls == ["forward"]
    window.service.set_settings(InferenceSettings(size=257, min_instance_score=0.05))
    qtbot.waitUntil(lambda: window.session.result is not first, timeout=RESULT_TIMEOUT_MS)
    assert calls == ["forward"]                              # decoder-only: cached maps
    assert all(p.score >= 0.05 for p in window.session.result.people)
    open_and_wait(qtbot, window, other_image)
    assert calls == ["forward"] * 2
    window.session.set_index(0)                              # back: cached result, at once
    assert window.session.result is not None and calls == ["forward"] * 2
    window.service.set_settings(InferenceSettings(size=289, min_instance_score=0.05))
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=RESULT_TIMEOUT_MS)


def test_long_refinement_steps_re_decode_without_a_network_pass(qtbot, window, people_image):
    calls = []
    engine = window.service.engine
    forward = engine.forward
    engine.forward = lambda *a: calls.append("forward") or forward(*a)
    first = open_and_wait(qtbot, window, people_image)
    box = window.settings_panel.refine_steps
    assert box.value() == box.minimum() and box.text() == f"model's ({engine.decoding['long_self_steps']})"
    assert window.service.settings.long_refine_steps is None and first.long_refined is not None
    box.setValue(0)
    window.settings_panel.apply()
    assert window.service.settings.long_refine_steps == 0
    qtbot.waitUntil(lambda: window.session.result is not first, timeout=RESULT_TIMEOUT_MS)
    unrefined = window.session.result
    assert not np.allclose(unrefined.long_refined, first.long_refined)
    assert np.array_equal(unrefined.heatmaps, first.heatmaps) and calls == ["forward"]
    box.setValue(box.minimum())                         # back to the model's own steps
    window.settings_panel.apply()
    assert window.service.settings.long_refine_steps is None
    qtbot.waitUntil(lambda: window.session.result is not unrefined, timeout=RESULT_TIMEOUT_MS)
    assert np.array_equal(window.session.result.long_refined, first.long_refined) and calls == ["forward"]


def test_navigation_and_unreadable_images(qtbot, window, people_image, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    open_and_wait(qtbot, window, people_image)
    window.open_paths([str(broken)])
    qtbot.waitUntil(lambda: "Cannot open image" in window.status.currentMessage(), timeout=RESULT_TIMEOUT_MS)
    assert str(broken) in window.status.currentMessage()
    assert window.image_list.list.item(1).toolTip().startswith(str(broken))
    assert window.session.result is None and window.canvas.image_layer.image is None
    trigger(window, "next")                                  # wraps to the first image
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=RESULT_TIMEOUT_MS)
    assert window.session.index == 0
    trigger(window, "previous")
    assert window.session.index == 1


def test_a_bad_model_is_reported_and_the_current_one_kept(qtbot, window, people_image):
    engine = window.service.engine
    window.service.load_model("no_such_model", "auto")
    qtbot.waitUntil(lambda: "Model not loaded" in window.status.currentMessage(), timeout=RESULT_TIMEOUT_MS)
    assert "no_such_model: unknown model" in window.status.currentMessage()
    assert window.service.engine is engine
    assert window.settings_panel.model.currentText() == "default"
    open_and_wait(qtbot, window, people_image)           # still works


def test_the_onnx_backend_is_chosen_in_settings_and_remembered(qtbot, window, prefs, people_image,
                                                               tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("PERSONLAB_CACHE_DIR", str(tmp_path / "cache"))
    float_result = open_and_wait(qtbot, window, people_image)
    panel = window.settings_panel
    panel.backend.setCurrentText("onnx")
    panel.backend.activated.emit(panel.backend.currentIndex())
    qtbot.waitUntil(lambda: window.service.engine.backend == "onnx", timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.session.result is not float_result and window.session.result is not None,
                    timeout=RESULT_TIMEOUT_MS)   # the image runs again on the new engine
    onnx_people = window.session.result.people
    assert len(onnx_people) == len(float_result.people)
    assert np.allclose([p.keypoints for p in onnx_people], [p.keypoints for p in float_result.people], atol=0.05)
    assert window.status.device.text() == "device: CPU, onnx" and prefs.model()[2] == "onnx"
    if torch.cuda.is_available():
        return
    engine = window.service.engine
    panel.backend.setCurrentText("fp16")                  # CUDA only: refused, the engine kept
    panel.backend.activated.emit(panel.backend.currentIndex())
    qtbot.waitUntil(lambda: "Model not loaded" in window.status.currentMessage(), timeout=RESULT_TIMEOUT_MS)
    assert "fp16 runs on CUDA only" in window.status.currentMessage()
    assert window.service.engine is engine and panel.backend.currentText() == "onnx"


def test_cancel_stops_inference_and_f5_resumes(qtbot, window, people_image):
    window.open_paths([str(people_image)])
    trigger(window, "cancel")
    qtbot.waitUntil(lambda: not window.service.busy, timeout=RESULT_TIMEOUT_MS)
    assert window.session.result is None
    trigger(window, "rerun")
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=RESULT_TIMEOUT_MS)


def test_settings_persist_between_sessions(qtbot, window, prefs):
    window.layers_panel.toggle("hough")
    window.layers["heatmap"].set_option("keypoint", 3)
    window.settings_panel.flip.setChecked(True)
    window.settings_panel.apply()
    window.close()
    from personlab_gui.gui.main_window import MainWindow
    again = MainWindow(prefs)
    qtbot.addWidget(again)
    assert again.layers["hough"].visible
    assert again.layers["heatmap"].option("keypoint").index == 3
    assert again.settings_panel.flip.isChecked() and again.service.settings.flip
    again.service.shutdown()


def test_keyboard_shortcuts_reach_the_window(qtbot, window, people_image):
    open_and_wait(qtbot, window, people_image)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_O)
    assert window.layers["hough"].visible
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Period)
    assert window.session.trace_step == 0


def test_shortcuts_dialog_lists_layers_and_navigation(qtbot, window):
    window.show_shortcuts()
    dialog = window.findChild(QtWidgets.QDialog)
    keys = {action: key for key, action in cells(dialog.table)}
    assert keys["Toggle layer: Keypoint heatmap p_k"] == "H"
    assert keys["Next image"] == "PgDown" and keys["Next trace step"] == "."
    dialog.close()


def test_drag_and_drop_opens_files(qtbot, window, example_image):
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(example_image))])
    window.dropEvent(QtGui.QDropEvent(QtCore.QPointF(10, 10), QtCore.Qt.DropAction.CopyAction, mime,
                                      QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier))
    assert window.session.current_path == str(example_image.resolve())
    assert window.prefs.recent()[0] == str(example_image.resolve())


def test_a_failing_inference_is_reported_once_and_f5_retries(qtbot, window, example_image):
    engine, calls = window.service.engine, []
    forward = engine.forward

    def broken(*args):
        calls.append(1)
        raise RuntimeError("out of memory\nsecond line")

    engine.forward = broken
    window.open_paths([str(example_image)])
    qtbot.waitUntil(lambda: "Inference failed" in window.status.currentMessage(), timeout=RESULT_TIMEOUT_MS)
    assert window.status.currentMessage() == "Inference failed: RuntimeError: out of memory"
    qtbot.wait(200)
    assert calls == [1] and not window.service.busy          # no retry loop
    engine.forward = forward
    trigger(window, "rerun")
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=RESULT_TIMEOUT_MS)


def test_folders_open_their_images(qtbot, window, example_image, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(example_image.read_bytes())
    (folder / "notes.txt").write_text("not an image")
    window.open_paths([str(folder)])
    assert window.session.paths == [str((folder / "a.jpg").resolve())]
    (tmp_path / "empty").mkdir()
    window.open_paths([str(tmp_path / "empty")])
    assert window.status.currentMessage() == f"No images in {tmp_path / 'empty'}"


def test_switching_fast_ends_on_the_last_image_and_frees_finished_tasks(qtbot, window, people_image,
                                                                        other_image):
    import gc

    from personlab_gui.gui.workers import Task

    def tasks() -> set[int]:
        gc.collect()
        return {id(o) for o in gc.get_objects() if type(o) is Task}

    earlier = tasks()                                      # left by other tests' windows
    for path in (people_image, other_image, people_image):
        window.open_paths([str(path)])                     # no waiting in between
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=RESULT_TIMEOUT_MS)
    assert window.session.current_path == str(people_image.resolve())
    assert window.session.result.image_hw == window.canvas.image_layer.image.shape[:2]
    qtbot.waitUntil(lambda: not window.service.busy, timeout=RESULT_TIMEOUT_MS)
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)  # as the app's loop does
    assert not tasks() - earlier                           # nor the images they held
