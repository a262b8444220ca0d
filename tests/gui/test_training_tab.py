"""The Training tab end to end: a project of real COCO images, training in a child
process from the tab (start, stop, resume, finish), the new model in the pickers with its
validation figures, "Use this model" in the viewer, and errors explained in the tab."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from personlab_gui.commands.train import configure
from personlab_gui.core.errors import InputError
from personlab_gui.core.model import load_checkpoint
from personlab_gui.core.model.zoo import ZOO_ENV
from personlab_gui.core.project import Project
from personlab_gui.core.project.coco import import_coco
from personlab_gui.core.training import state_path
from personlab_gui.gui.training.run import FAILED, FINISHED, IDLE, STOPPED
from personlab_gui.gui.training.spec import shell_command

from .conftest import open_and_wait

REPO_ZOO = Path(__file__).resolve().parents[2] / "model_zoo"
#: Child-process start (imports torch), validation and a few dozen small steps.
TRAIN_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private model zoo holding links to the repository's models."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    for model in REPO_ZOO.glob("*.pt"):
        (folder / model.name).symlink_to(model)
    monkeypatch.setenv(ZOO_ENV, str(folder))
    return folder


#: Four COCO dev training images; held out at 0.25, the first (13 people) validates.
CROWDED = ("000000129648.jpg", "000000000370.jpg", "000000000529.jpg", "000000000790.jpg")


def _project(path: Path, shared_data: Path, images: int | tuple[str, ...], reviewed: bool) -> Path:
    """A project of the first ``images`` COCO dev training images (or of these files)."""
    root = shared_data / "coco_dev" / "train"
    gt = json.loads((root / "person_keypoints.json").read_text())
    keep = (gt["images"][:images] if isinstance(images, int)
            else [image for image in gt["images"] if image["file_name"] in images])
    ids = {image["id"] for image in keep}
    subset = path.parent / "subset.json"
    subset.write_text(json.dumps({**gt, "images": keep,
                                  "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
    with Project.create(path, root / "images") as project:
        import_coco(project, subset, root / "images")
        for image_id in project.image_ids():
            project.set_review(image_id, reviewed)
    return path


def _small_run(panel, project: Path, steps: int) -> None:
    form = panel.form
    form.set_project(str(project))
    form.set_validation(None, fraction=0.25)
    form.name.setText("tuned")
    form.size.setValue(129)
    form.length.setValue(steps)
    form.batch.setValue(2)
    form.lr.setValue(0.01)
    form.eval_every.setValue(0)
    form.workers.setValue(0)
    form.device.setCurrentText("cpu")


def test_train_stop_resume_finish_and_use_the_model(qtbot, window, shared_data, tmp_path, zoo, people_image):
    before = open_and_wait(qtbot, window, people_image)
    panel = window.training
    _small_run(panel, _project(tmp_path / "p.plab", shared_data, CROWDED, reviewed=True), steps=40)
    panel.refresh_counts()
    qtbot.waitUntil(lambda: panel.form.counts.text().startswith("Training: project 3 images"), timeout=10_000)
    assert "Validation: 1 images, 13 people held out" in panel.form.counts.text()
    assert "Refused" not in panel.form.counts.text()

    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.step >= 1, timeout=TRAIN_TIMEOUT_MS)
    assert panel.val_info.text().startswith("Validation set: 1 images, 13 people (held out")
    assert panel.run.history.baseline["keypoints/AP"] >= 0      # the starting model, validated first
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.run.status == STOPPED, timeout=TRAIN_TIMEOUT_MS)
    out = zoo / "tuned.pt"
    stopped_at = panel.run.step
    assert 1 <= stopped_at < 40 and state_path(out).is_file()
    assert load_checkpoint(out)[1]["meta"]["cancelled"]           # a usable checkpoint
    assert panel.resume_button.isEnabled() and panel.use_button.isEnabled()

    panel.resume_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FINISHED, timeout=TRAIN_TIMEOUT_MS)
    history = panel.run.history
    assert history.steps[-1] == 40 and history.eval_steps == [40]
    assert set(history.losses) >= {"total", "heatmap", "segmentation", "short", "mid", "long"}
    assert panel.progress.value() == 40 and "Validation: keypoint AP" in panel.message.text()

    picker = window.settings_panel.model
    index = picker.findText("tuned")
    assert index >= 0
    tip = picker.itemData(index, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert "validation: keypoint AP" in tip and "(start " in tip

    panel.use_button.click()
    qtbot.waitUntil(lambda: window.service.engine.model_path == out, timeout=TRAIN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.session.result is not None and window.session.result is not before,
                    timeout=TRAIN_TIMEOUT_MS)
    assert picker.currentText() == "tuned"
    assert not np.allclose(window.session.result.heatmaps, before.heatmaps, atol=1e-4)


def test_no_reviewed_images_is_explained_in_the_tab(qtbot, window, shared_data, tmp_path):
    panel = window.training
    project = _project(tmp_path / "p.plab", shared_data, 2, reviewed=False)
    _small_run(panel, project, steps=5)
    panel.form.set_project("")
    assert window.editor.files.open(str(project))          # the tab follows the open project
    assert panel.form.project.text() == str(project)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED, timeout=10_000)
    assert "no reviewed images" in panel.message.text()
    assert panel.start_button.isEnabled() and not panel.process.running


def test_an_empty_validation_set_and_a_missing_image_are_explained(qtbot, window, shared_data, tmp_path):
    panel = window.training
    project = _project(tmp_path / "p.plab", shared_data, 2, reviewed=True)
    _small_run(panel, project, steps=5)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "person", "supercategory": "person"}]}))
    panel.form.set_validation(str(empty), str(tmp_path))
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED, timeout=10_000)
    assert "validation set is empty" in panel.message.text()

    images = tmp_path / "images"            # a project whose reviewed image was deleted
    images.mkdir()
    photo = shutil.copy(next((shared_data / "coco_dev" / "train" / "images").iterdir()), images)
    moved = tmp_path / "moved.plab"
    with Project.create(moved, images) as other:
        other.set_review(other.add_images([photo])[0], True)
    Path(photo).unlink()
    panel.form.set_project(str(moved))
    panel.form.set_validation(None, fraction=0.0)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED and "missing on disk" in panel.message.text(),
                    timeout=10_000)


def _refused(qtbot, panel, reason: str) -> None:
    """Start is refused with ``reason`` in the tab (message and counts), and nothing runs."""
    panel.refresh_counts()
    qtbot.waitUntil(lambda: reason in panel.form.counts.text(), timeout=10_000)
    assert "Refused" in panel.form.counts.text() and "e05050" in panel.form.counts.styleSheet()
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED, timeout=10_000)
    assert reason in panel.message.text() and not panel.process.running


def test_validation_on_unedited_predictions_is_refused(qtbot, window, shared_data, tmp_path):
    path = _project(tmp_path / "p.plab", shared_data, CROWDED, reviewed=True)
    with Project.open(path) as project:       # the model's people, marked reviewed but never accepted
        for image_id in project.image_ids():
            for person_id in project.people(image_id):
                project.update_person(person_id, provenance="predicted", score=0.9)
    panel = window.training
    _small_run(panel, path, steps=5)
    _refused(qtbot, panel, "unedited predictions")


def test_held_out_images_are_human_verified_ones(qtbot, window, shared_data, tmp_path):
    path = _project(tmp_path / "p.plab", shared_data, CROWDED, reviewed=True)
    with Project.open(path) as project:       # the crowded image (13 people) keeps one unedited prediction
        crowded = next(i for i in project.image_ids() if project.image(i).path == CROWDED[0])
        project.update_person(next(iter(project.people(crowded))), provenance="predicted", score=0.9)
    panel = window.training
    _small_run(panel, path, steps=5)
    _refused(qtbot, panel, "at least 10 human-verified people")
    assert "Validation: 1 images, 2 people held out" in panel.form.counts.text()   # not the crowded one


def test_a_small_or_predicted_coco_validation_set_is_refused(qtbot, window, shared_data, tmp_path):
    panel = window.training
    _small_run(panel, _project(tmp_path / "p.plab", shared_data, 2, reviewed=True), steps=5)
    root = shared_data / "coco_dev" / "val"
    gt = json.loads((root / "person_keypoints.json").read_text())
    small = tmp_path / "small.json"           # 2 images, 4 people
    keep = gt["images"][2:4]
    ids = {image["id"] for image in keep}
    small.write_text(json.dumps({**gt, "images": keep,
                                 "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
    panel.form.set_validation(str(small), str(root / "images"))
    _refused(qtbot, panel, "at least 10 human-verified people")
    predicted = tmp_path / "pseudo.json"      # the whole set, but as model output (a score per person)
    predicted.write_text(json.dumps({**gt, "annotations": [{**a, "score": 0.8} for a in gt["annotations"]]}))
    panel.form.set_validation(str(predicted), str(root / "images"))
    _refused(qtbot, panel, "model predictions")
    panel.form.set_validation(str(root / "person_keypoints.json"), str(root / "images"))
    panel.refresh_counts()
    qtbot.waitUntil(lambda: "person_keypoints.json 14 images, 51 people" in panel.form.counts.text(),
                    timeout=10_000)
    assert "Refused" not in panel.form.counts.text()


def test_a_corrupt_starting_model_fails_in_the_process_and_is_explained(qtbot, window, shared_data,
                                                                        tmp_path, zoo):
    (zoo / "broken.pt").write_bytes(b"not a checkpoint")
    panel = window.training
    _small_run(panel, _project(tmp_path / "p.plab", shared_data, 2, reviewed=True), steps=5)
    panel.form.set_validation(None, fraction=0.0)
    panel.form.init_model.setCurrentText(str(zoo / "broken.pt"))
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED and not panel.process.running, timeout=TRAIN_TIMEOUT_MS)
    assert panel.start_button.isEnabled()
    assert "broken.pt: not a PyTorch checkpoint" in panel.message.text()
    assert "Traceback" not in panel.log.toPlainText()


def test_a_crashing_training_process_is_explained(qtbot, window, shared_data, tmp_path, monkeypatch):
    crash = "import os, signal; print('about to crash', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    monkeypatch.setattr("personlab_gui.gui.training.panel.process_argv",
                        lambda args, cancel_file: [sys.executable, "-c", crash])
    panel = window.training
    _small_run(panel, _project(tmp_path / "p.plab", shared_data, 2, reviewed=True), steps=5)
    panel.form.set_validation(None, fraction=0.0)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status == FAILED and not panel.process.running, timeout=TRAIN_TIMEOUT_MS)
    assert "was killed" in panel.message.text() and "about to crash" in panel.message.text()
    assert panel.start_button.isEnabled() and window.isVisible()


def test_copy_command_gives_the_cli_of_the_same_run(qtbot, window, shared_data, tmp_path, zoo):
    panel = window.training
    _small_run(panel, _project(tmp_path / "p.plab", shared_data, CROWDED, reviewed=True), steps=7)
    panel.procs.setValue(4)
    panel.nodes.setValue(2)
    panel.copy_button.click()
    qtbot.waitUntil(lambda: "torchrun" in QtGui.QGuiApplication.clipboard().text(), timeout=10_000)
    text = QtGui.QGuiApplication.clipboard().text()
    assert text.startswith("torchrun --nproc_per_node 4 --nnodes 2 --node_rank $NODE_RANK")
    args = shlex.split(text.split(" -m personlab_gui train ", 1)[1])
    assert args[args.index("--out") + 1] == str(zoo / "tuned.pt")
    assert args[args.index("--steps") + 1] == "7" and "--eval-at-start" in args
    assert Path(args[args.index("--train") + 1]).is_file()
    assert "--progress-json" not in args and "--cancel-file" not in args


def test_shell_command_on_one_machine():
    assert shell_command(["--steps", "5"]) == "personlab-gui train --steps 5"
    assert shell_command(["--steps", "5"], procs=2).startswith("torchrun --standalone --nproc_per_node 2 ")


DISTILL_OPTIONS = ("--teacher", "--unlabeled", "--gt-weight")


def _unlabeled(tmp_path: Path, shared_data: Path, count: int = 2) -> Path:
    """A folder of ``count`` photos without labels."""
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    for photo in sorted((shared_data / "people").glob("*.jpg"))[:count]:
        shutil.copy(photo, folder)
    return folder


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser


def test_distillation_gives_the_cli_its_teachers_unlabeled_images_and_weight(qtbot, window, tmp_path):
    form = window.training.form
    form.name.setText("student")
    unchecked = form.spec().args(tmp_path / "student.pt")
    assert not set(DISTILL_OPTIONS) & set(unchecked) and form.data_request().unlabeled == ()

    form.distillation.setChecked(True)
    form.distillation.add_unlabeled(str(tmp_path))
    args = form.spec().args(tmp_path / "student.pt")
    text = shlex.join(args)
    assert ("--teacher heatmap,short,mid=posenet_mnv1_075 "
            "--teacher segmentation,long,parts=bodypix_mnv1_075 --gt-weight 0.5") in text
    assert args[args.index("--unlabeled"):args.index("--unlabeled") + 2] == ["--unlabeled", str(tmp_path)]
    parsed = _train_parser().parse_args(args)              # exactly as the CLI takes them
    assert parsed.teacher == ["heatmap,short,mid=posenet_mnv1_075", "segmentation,long,parts=bodypix_mnv1_075"]
    assert parsed.unlabeled == [str(tmp_path)] and parsed.gt_weight == 0.5 and parsed.train is None

    form.distillation.gt_weight.setValue(0.25)
    form.distillation.rows[1].heads.setText(" segmentation , long ")
    args = form.spec().args(tmp_path / "student.pt")
    assert shlex.join(args).count("--teacher") == 2 and "segmentation,long=bodypix_mnv1_075" in args
    assert args[args.index("--gt-weight") + 1] == "0.25"
    form.distillation.setChecked(False)
    assert not set(DISTILL_OPTIONS) & set(form.spec().args(tmp_path / "student.pt"))


def test_ground_truth_is_optional_only_with_unlabeled_images(qtbot, window, tmp_path):
    form = window.training.form
    form.set_project("")
    form.set_validation(None, fraction=0.0)
    form.distillation.setChecked(True)
    with pytest.raises(InputError, match="none chosen"):       # no folder yet: still refused
        form.data_request().check()
    form.distillation.add_unlabeled(str(tmp_path))
    form.data_request().check()
    form.distillation.setChecked(False)
    with pytest.raises(InputError, match="none chosen"):
        form.data_request().check()


@pytest.mark.parametrize(("heads", "reason"), [
    ("heatmap,parts", "teacher posenet_mnv1_075 has no trained parts head (it has heatmap, short, mid)"),
    ("heatmap,elbow", "use HEAD[,HEAD...]=MODEL with heads from heatmap, short, mid, segmentation, long, parts"),
])
def test_an_invalid_teacher_is_refused_in_one_line(qtbot, window, tmp_path, heads, reason):
    panel = window.training
    panel.form.name.setText("student")
    panel.form.distillation.setChecked(True)
    panel.form.distillation.add_unlabeled(str(tmp_path))
    panel.form.distillation.rows[0].heads.setText(heads)
    panel.start_button.click()
    assert reason in panel.message.text() and "\n" not in panel.message.text()
    assert "e05050" in panel.message.styleSheet()
    assert panel.run.status == IDLE and not panel.process.running


def test_a_missing_unlabeled_folder_is_refused(qtbot, window, tmp_path):
    panel = window.training
    panel.form.name.setText("student")
    panel.form.distillation.setChecked(True)
    panel.form.distillation.add_unlabeled(str(tmp_path / "gone"))
    panel.start_button.click()
    assert panel.message.text() == f"{tmp_path / 'gone'}: unlabeled images: no such folder"
    assert panel.run.status == IDLE


def test_distillation_on_unlabeled_images_only_runs_from_the_tab(qtbot, window, shared_data, tmp_path, zoo):
    panel, form = window.training, window.training.form
    _small_run(panel, tmp_path / "none.plab", steps=2)
    form.set_project("")
    form.set_validation(None, fraction=0.0)
    form.distillation.setChecked(True)
    form.distillation.set_teachers([("heatmap,short,mid", "posenet_mnv1_075")])
    form.distillation.add_unlabeled(str(_unlabeled(tmp_path, shared_data)))
    panel.refresh_counts()
    qtbot.waitUntil(lambda: "Training: unlabeled 2 images" in form.counts.text(), timeout=10_000)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.run.status in (FINISHED, FAILED), timeout=TRAIN_TIMEOUT_MS)
    assert panel.run.status == FINISHED, panel.message.text()
    args = shlex.split(panel.command.toPlainText())
    assert "--unlabeled" in args and "--train" not in args and "--images" not in args
    assert {"distill/heatmap", "distill/short", "distill/mid"} <= set(panel.run.history.losses)
    meta = load_checkpoint(zoo / "tuned.pt")[1]["meta"]
    assert meta["settings"]["teachers"] == ["heatmap,short,mid=posenet_mnv1_075"]


def test_the_expanded_distillation_group_fits_and_its_new_rows_are_guarded(qtbot, window, tmp_path):
    window.resize(1366, 768)
    window.training_page.tabs.setCurrentIndex(1)
    group = window.training.form.distillation
    group.setChecked(True)
    group.add_unlabeled(str(tmp_path))
    group.add_teacher_button.click()
    qtbot.waitUntil(group.rows[-1].isVisible)
    assert len(group.rows) == 3 and group.rows[-1].model.currentText() == "default"
    for control in (group.rows[-1].model, group.gt_weight):
        assert control.focusPolicy() == QtCore.Qt.FocusPolicy.StrongFocus
    hint = window.training.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 680
    removed = group.rows[0]
    removed.remove.click()
    assert len(group.rows) == 2 and removed not in group.rows and not removed.isVisible()
    group.preset_button.click()
    assert [(r.heads.text(), r.model.currentText()) for r in group.rows] == [
        ("heatmap,short,mid", "posenet_mnv1_075"), ("segmentation,long,parts", "bodypix_mnv1_075")]
