"""Soak test of the label editor: the real main window over a project of real images,
driven through a seeded random sequence of user actions, with the labels' invariants
checked after EVERY action.

    python -X faulthandler bench/soak_gui.py --actions 3000 --seed 1 [--images 4] [--size 257]

Images: the first ``--images`` of ``../shared/data/coco_dev/val`` (the bundled astronaut,
mirrored and flipped, when absent), copied into a temporary project; Import COCO adds
their ground truth from the val file (or the last export). Actions go through the UI: the
window's QActions (the keys and menus), mouse clicks and drags on the canvas (keypoints,
labels, strokes, polygon corners), the image list, the settings panel, the tab bar and the
window size; File-menu actions call what their dialogs call, and "import again?" is
answered yes now and then. After every action: SQLite ``PRAGMA integrity_check``; the document
equals the database (people, fields, cached masks) and the viewer shows its image; every
person is valid (labelled keypoints inside the image, masks of its size and non-empty);
no two identical predictions on an image; undo then redo gives back exactly the same
labels (when the last step is on the shown image, so the check does not move the view);
and every ``--export-every`` actions (an export and its evaluations take ~0.2 s) the
project exports as COCO, pycocotools reads the file and evaluates every person against
itself, keypoints and segm, with AP 1.0 (each person in an image of its own: see
``self_ap``; whole images scoring below 1.0 are counted, not failed). Each failure is
one line on stderr (a state found again later is not counted twice); an exception
anywhere in the app (actions or Qt slots) counts as a crash. The last line is one JSON
object: actions, crashes, invariant_failures, seconds, then the failures by invariant,
the export checks, and how many times each action changed something (the driver's
self-check: an action that never changes anything misses the UI).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

SHARED_VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco_dev" / "val"
WINDOW_SIZES = ((1366, 768), (1200, 800), (1024, 700), (1600, 900))
INFERENCE_SIZES = (257, 289)
RESULT_WAIT_S = 30.0
MOVE_MS = 15   # pyqtgraph drops mouse moves closer than 10 ms apart
PROGRESS_EVERY = 100   # actions between progress lines on stderr
#: How often "import these people again?" is answered yes (each yes adds every person again).
DUPLICATE_IMPORT_YES = 0.2


class Soak:
    """One window, one project, one random sequence; counts crashes and failures."""

    def __init__(self, workdir: Path, seed: int, n_images: int, size: int, export_every: int,
                 keep: Path | None = None) -> None:
        from PySide6 import QtCore

        from personlab_gui.core.inference.engine import InferenceSettings
        from personlab_gui.gui.main_window import MainWindow
        from personlab_gui.gui.preferences import Preferences

        self.rng = random.Random(seed)
        self.workdir, self.export_every, self.keep = workdir, export_every, keep
        self.folder, self.coco = make_images(workdir, n_images)
        prefs = Preferences(QtCore.QSettings(str(workdir / "settings.ini"), QtCore.QSettings.Format.IniFormat))
        prefs.set_inference_settings(InferenceSettings(size=size))
        self.window = MainWindow(prefs)
        self.window.resize(*WINDOW_SIZES[0])
        self.window.show()
        self.editor = self.window.editor
        self.editor.files.ask_to_add_duplicates = lambda *_: self.rng.random() < DUPLICATE_IMPORT_YES
        self.plab = workdir / "labels.plab"
        self.crashes, self.failures, self._seen = 0, Counter(), set()
        self.action_name, self.index = "start", -1
        self.exports, self.done, self.effective = Counter(), Counter(), Counter()
        self.actions = self._action_table()

    # -- running -----------------------------------------------------------------------
    def run(self, n_actions: int) -> dict:
        start = time.perf_counter()
        self._wait(lambda: self.window.service.engine is not None, 120.0)
        assert self.editor.files.create(str(self.plab), str(self.folder)), "cannot create the project"
        names, weights = zip(*((name, w) for name, (w, _) in self.actions.items()))
        for self.index in range(n_actions):
            self.action_name = self.rng.choices(names, weights)[0]
            before = self._state()
            self._guarded(self.actions[self.action_name][1])
            self._settle()
            self.done[self.action_name] += 1
            self.effective[self.action_name] += self._state() != before
            if (self.index + 1) % PROGRESS_EVERY == 0:
                print(f"{self.index + 1}/{n_actions} actions, {time.perf_counter() - start:.0f} s, "
                      f"{self.crashes} crashes, {sum(self.failures.values())} failures", file=sys.stderr)
            self._guarded(self.check)
        self.window.service.shutdown()
        return {"actions": n_actions, "crashes": self.crashes,
                "invariant_failures": sum(self.failures.values()),
                "seconds": round(time.perf_counter() - start, 1),
                "failures_by_invariant": dict(self.failures), "exports": dict(self.exports),
                "actions_changing_something": {n: f"{self.effective[n]}/{c}" for n, c in sorted(self.done.items())}}

    def _keep(self, path: Path) -> str:
        """Copy a failing file to ``--keep`` (if given); returns where it went."""
        if self.keep is None:
            return ""
        self.keep.mkdir(parents=True, exist_ok=True)
        target = self.keep / f"action{self.index}_{path.name}"
        shutil.copy(path, target)
        return str(target)

    def _state(self) -> tuple:
        """What an action may change: the undo stack, the image, its people, the view."""
        doc, stack = self.editor.doc, self.editor.stack
        people = tuple(person_key(p) for p in doc.people.values())
        return (stack.index(), stack.count(), doc.project is not None, doc.image_id, people,
                self.window.size().toTuple(), self.window.service.settings, self.window.status.currentMessage())

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            self.crash(traceback.format_exc())

    def crash(self, text: str) -> None:
        """An exception in the app (an action or a Qt slot)."""
        self.crashes += 1
        print(f"CRASH at action {self.index} ({self.action_name}):\n{text}", file=sys.stderr)

    def fail(self, invariant: str, detail: str) -> None:
        """Count and print a failure; one a later check finds again is not counted twice."""
        if (invariant, detail) in self._seen:
            return
        self._seen.add((invariant, detail))
        self.failures[invariant] += 1
        print(f"FAIL {invariant} after action {self.index} ({self.action_name}): {detail}", file=sys.stderr)

    def _settle(self) -> None:
        """Let queued events and the deferred viewer updates run."""
        from PySide6.QtTest import QTest

        QTest.qWait(2)

    def _wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        from PySide6.QtTest import QTest

        deadline = time.perf_counter() + seconds
        while not condition():
            if time.perf_counter() > deadline:
                return False
            QTest.qWait(10)
        return True

    # -- the actions -------------------------------------------------------------------
    def _action_table(self) -> dict[str, tuple[float, Callable[[], None]]]:
        """name -> (weight, what the user does)."""
        trigger = self.trigger
        return {
            "open project": (1, self.reopen),
            "next image": (4, lambda: trigger("next")),
            "previous image": (2, lambda: trigger("previous")),
            "jump to image": (2, self.jump),
            "store predictions": (4, self.wait_for_model),
            "accept one": (4, lambda: self.with_person(lambda: trigger("accept"))),
            "accept all": (2, lambda: trigger("accept_all")),
            "drag keypoint": (6, self.drag_keypoint),
            "set visibility": (4, self.set_visibility),
            "add person": (3, self.add_person),
            "delete person": (2, lambda: self.with_person(lambda: trigger("delete_person"))),
            "duplicate person": (2, lambda: self.with_person(lambda: trigger("duplicate"))),
            "swap left/right": (2, lambda: self.with_person(lambda: trigger("swap"))),
            "crowd": (1, lambda: self.with_person(lambda: trigger("crowd"))),
            "brush": (4, lambda: self.stroke("brush")),
            "eraser": (3, lambda: self.stroke("eraser")),
            "polygon": (3, self.polygon),
            "fill": (2, self.fill),
            "add basin": (2, self.basin),
            "regenerate mask": (3, lambda: self.with_person(lambda: trigger("regenerate"))),
            "undo burst": (5, lambda: self.burst("undo")),
            "redo burst": (3, lambda: self.burst("redo")),
            "mark reviewed": (2, lambda: trigger("toggle_reviewed")),
            "review queue": (2, lambda: trigger(self.rng.choice(["next_unreviewed", "lowest_score"]))),
            "import COCO": (1, self.import_coco),
            "export COCO": (1, self.export_action),
            "change model": (1, self.change_model),
            "change inference settings": (2, self.change_settings),
            "switch tabs": (1, self.switch_tabs),
            "resize window": (1, self.resize),
        }

    def trigger(self, name: str) -> None:
        self.window.actions_by_name[name].trigger()

    def reopen(self) -> None:
        self.trigger("close_project")
        assert self.editor.files.open(str(self.plab)), self.window.status.currentMessage()

    def jump(self) -> None:
        image_list = self.window.image_list.list
        if image_list.count():
            image_list.setCurrentRow(self.rng.randrange(image_list.count()))

    def wait_for_model(self) -> None:
        """Wait until the model's result for the shown image arrived (its predictions are
        stored then, unless the image is reviewed or has them)."""
        self.trigger("rerun")
        self._wait(lambda: self.editor.result() is not None or not self.window.service.busy, RESULT_WAIT_S)

    def _ready_canvas(self) -> bool:
        """The viewer page shows the document's image, fitted: the canvas can be clicked."""
        self.window.training_page.show_viewer()
        doc = self.editor.doc
        if doc.image_id is None or not self._wait(lambda: self.window.session.image is not None, 5.0):
            return False
        self.trigger("fit")
        return True

    def _people_with_keypoints(self) -> list[tuple[int, int]]:
        """(person, keypoint) of every labelled keypoint inside the image."""
        doc = self.editor.doc
        h, w = doc.image_hw
        return [(i, k) for i, p in doc.people.items() for k in range(len(p.keypoints))
                if p.keypoints[k, 2] > 0 and 0 <= p.keypoints[k, 0] < w and 0 <= p.keypoints[k, 1] < h]

    def select_person(self) -> bool:
        """Click a person's keypoint (or, sometimes, its label) with the keypoint tool."""
        if not self._ready_canvas():
            return False
        self.trigger("tool_keypoints")
        labels = self.editor.annotations.skeletons.labels
        if labels and self.rng.random() < 0.3:
            label = self.rng.choice(labels)
            self.click_device(self._label_point(label))
        else:
            hits = self._people_with_keypoints()
            if not hits:
                return False
            person, k = self.rng.choice(hits)
            self.click(self.editor.doc.people[person].keypoints[k, :2])
        return self.editor.selection.person is not None

    def with_person(self, action: Callable[[], None]) -> None:
        if self.select_person():
            action()

    def drag_keypoint(self) -> None:
        if not self._ready_canvas():
            return
        self.trigger("tool_keypoints")
        hits = self._people_with_keypoints()
        if hits:
            person, k = self.rng.choice(hits)
            start = self.editor.doc.people[person].keypoints[k, :2]
            end = self._inside(start + np.array([self.rng.uniform(-40, 40), self.rng.uniform(-40, 40)]))
            self.drag([start, (start + end) / 2, end])

    def set_visibility(self) -> None:
        if self.select_person() and self.editor.selection.keypoint is not None:
            self.trigger(f"visibility_{self.rng.randrange(3)}")

    def add_person(self) -> None:
        if not self._ready_canvas():
            return
        self.trigger("tool_add_person")
        for _ in range(self.rng.randint(1, 6)):
            self.click(self._random_point())
        self.trigger("tool_finish")

    def stroke(self, tool: str) -> None:
        if not self.select_person():
            return
        self.trigger(f"tool_{tool}")
        self.trigger(self.rng.choice(["brush_smaller", "brush_larger"]))
        start = self._random_point()
        self.drag([start] + [self._inside(start + np.array([self.rng.uniform(-60, 60), self.rng.uniform(-60, 60)]))
                             for _ in range(self.rng.randint(1, 4))])

    def polygon(self) -> None:
        if not self.select_person():
            return
        self.trigger("tool_polygon")
        centre = self._random_point()
        for angle in sorted(self.rng.uniform(0, 2 * np.pi) for _ in range(self.rng.randint(3, 6))):
            self.click(self._inside(centre + 50 * np.array([np.cos(angle), np.sin(angle)])))
        self.trigger("tool_finish")

    def fill(self) -> None:
        if not self.select_person():
            return
        self.trigger("tool_fill")
        box = self.editor.doc.mask_box(self.editor.selection.person)
        point = self._random_point() if box is None else np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        self.click(point)

    def basin(self) -> None:
        if not self.select_person():
            return
        self.trigger("tool_basin")
        self.click(self._random_point())

    def burst(self, name: str) -> None:
        for _ in range(self.rng.randint(1, 6)):
            self.trigger(name)

    def import_coco(self) -> None:
        source = self.coco if self.coco is not None else self.workdir / "export.json"
        if source.is_file():
            self.editor.files.import_coco(str(source), str(self.folder))

    def export_action(self) -> None:
        self.editor.files.export(str(self.workdir / "export.json"), reviewed_only=self.rng.random() < 0.5,
                                 rle=self.rng.random() < 0.5)

    def change_model(self) -> None:
        combo = self.window.settings_panel.model
        index = self.rng.choice([i for i in range(combo.count()) if "posenet" in combo.itemText(i)
                                 or combo.itemText(i) in ("default", "personlab_mnv1_075")])
        combo.setCurrentIndex(index)
        combo.activated.emit(index)   # what choosing it in the list does
        self._wait(lambda: not self.window.service.busy, RESULT_WAIT_S)

    def change_settings(self) -> None:
        panel = self.window.settings_panel
        choice = self.rng.randrange(4)
        if choice == 0:
            panel.size.setValue(self.rng.choice(INFERENCE_SIZES))
        elif choice == 1:
            panel.mask_assignment.setCurrentIndex(self.rng.randrange(panel.mask_assignment.count()))
        else:
            box = self.rng.choice(list(panel.thresholds.values()))
            box.setValue(round(self.rng.uniform(0.0, 0.3), 3))
        panel.apply()

    def switch_tabs(self) -> None:
        tabs = self.window.training_page.tabs
        tabs.setCurrentIndex(1)
        self._settle()
        tabs.setCurrentIndex(0)

    def resize(self) -> None:
        self.window.resize(*self.rng.choice(WINDOW_SIZES))

    # -- the mouse -----------------------------------------------------------------------
    def _random_point(self) -> np.ndarray:
        h, w = self.editor.doc.image_hw
        return np.array([self.rng.uniform(0, w - 1), self.rng.uniform(0, h - 1)])

    def _inside(self, xy: np.ndarray) -> np.ndarray:
        h, w = self.editor.doc.image_hw
        return np.clip(xy, 0, [w - 1, h - 1])

    def _screen(self, xy):
        from PySide6 import QtCore

        canvas = self.window.canvas
        return canvas.mapFromScene(canvas.view.mapViewToScene(QtCore.QPointF(float(xy[0]), float(xy[1]))))

    def _label_point(self, label):
        from PySide6 import QtCore

        skeletons = self.editor.annotations.skeletons
        box = skeletons._label_box(label, skeletons.deviceTransform_())
        return QtCore.QPoint(round(box.center().x()), round(box.center().y()))

    def click(self, xy) -> None:
        self.click_device(self._screen(xy))

    def click_device(self, point) -> None:
        from PySide6 import QtCore
        from PySide6.QtTest import QTest

        QTest.mouseClick(self.window.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         QtCore.Qt.KeyboardModifier.NoModifier, point)

    def drag(self, points) -> None:
        from PySide6 import QtCore
        from PySide6.QtTest import QTest

        viewport, left = self.window.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton
        none = QtCore.Qt.KeyboardModifier.NoModifier
        QTest.mousePress(viewport, left, none, self._screen(points[0]))
        for xy in points[1:]:
            QTest.qWait(MOVE_MS)
            QTest.mouseMove(viewport, self._screen(xy))
        QTest.mouseRelease(viewport, left, none, self._screen(points[-1]))

    # -- the invariants ----------------------------------------------------------------
    def check(self) -> None:
        project = self.editor.doc.project
        if project is None:
            return
        self.check_integrity()
        self.check_document()
        self.check_people(project)
        self.check_undo_redo()
        if self.index % self.export_every == 0:
            self.check_export()

    def check_integrity(self) -> None:
        uri = f"file:{self.plab}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            report = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if report != "ok":
            self.fail("sqlite integrity", report)

    def check_document(self) -> None:
        doc, window = self.editor.doc, self.window
        if doc.image_id is None:
            return
        stored = doc.project.people(doc.image_id)
        if stored.keys() != doc.people.keys():
            self.fail("document = database", f"image {doc.image_id}: ids {sorted(doc.people)} vs {sorted(stored)}")
            return
        for person_id, person in doc.people.items():
            if person_key(person) != person_key(stored[person_id]):
                self.fail("document = database", f"person {person_id} differs from its row")
            mask, rle = doc.mask(person_id), stored[person_id].mask_rle
            same = (mask is None) == (rle is None) and (mask is None or np.array_equal(mask, mask_utils.decode(rle)))
            if not same:
                self.fail("document = database", f"person {person_id}: cached mask differs from the stored one")
        if self.editor.overlay.texture.pixels.shape[:2] != doc.image_hw:
            self.fail("views follow the image", f"mask overlay {self.editor.overlay.texture.pixels.shape[:2]} "
                                                f"on a {doc.image_hw} image")
        shown = self.editor._image_ids.get(window.session.current_path)
        if shown != doc.image_id:
            self.fail("views follow the image", f"viewer on image {shown}, document on {doc.image_id}")

    def check_people(self, project) -> None:
        for image_id in project.image_ids():
            image = project.image(image_id)
            predictions = []
            for person_id, person in project.people(image_id).items():
                problem = person_problem(person, image.height, image.width)
                if problem:
                    self.fail("valid people", f"person {person_id} on {image.path}: {problem}")
                if person.provenance == "predicted":
                    predictions.append(person_key(person))
            if len(set(predictions)) != len(predictions):
                self.fail("no identical predictions", f"{image.path}: {len(predictions)} predictions, "
                                                      f"{len(set(predictions))} different")

    def check_undo_redo(self) -> None:
        stack, doc = self.editor.stack, self.editor.doc
        top = stack.command(stack.index() - 1) if stack.canUndo() else None
        if top is None or getattr(top, "image_id", None) != doc.image_id:
            return
        before = snapshot(doc.project)
        stack.undo()
        stack.redo()
        after = snapshot(doc.project)
        if after != before:
            changed = {i: changed_fields(before[i], after.get(i)) for i in before if before[i] != after.get(i)}
            self.fail("undo then redo restores", f"'{top.text()}' changed {changed} (image: fields)")

    def check_export(self) -> None:
        out = self.workdir / "check.json"
        with contextlib.redirect_stdout(io.StringIO()):
            ok = self.editor.files.export(str(out), reviewed_only=False, rle=self.rng.random() < 0.5)
        if not ok:
            self.fail("export self-AP 1.0", f"export refused: {self.window.status.currentMessage()}")
            return
        for kind, (alone, whole) in self_ap(out).items():
            self.exports[f"{kind} evaluated" if alone is not None else f"{kind} nothing to evaluate"] += 1
            if whole is not None and whole < 1.0 - 1e-9:
                self.exports[f"{kind} whole-image AP < 1 (subset neighbours)"] += 1
            if alone is not None and alone < 1.0 - 1e-9:
                kept = self._keep(out)
                self.fail("export self-AP 1.0", f"{kind} self-AP {alone:.4f}" + (f" ({kept})" if kept else ""))


# -- data and comparisons ------------------------------------------------------------
def make_images(workdir: Path, count: int) -> tuple[Path, Path | None]:
    """The project's image folder and a COCO file with their ground truth (None without
    the shared data: the bundled astronaut, mirrored and flipped)."""
    from personlab_gui.gui.app import EXAMPLE_IMAGE

    folder = workdir / "images"
    folder.mkdir()
    coco = SHARED_VAL / "person_keypoints.json"
    if not coco.is_file():
        image = cv2.imread(str(EXAMPLE_IMAGE))
        for i, variant in enumerate([image, image[:, ::-1], image[::-1]][:count]):
            cv2.imwrite(str(folder / f"astronaut{i}.png"), variant)
        return folder, None
    data = json.loads(coco.read_text())
    images = sorted(data["images"], key=lambda im: im["file_name"])[:count]
    for image in images:
        shutil.copy(SHARED_VAL / "images" / image["file_name"], folder / image["file_name"])
    ids = {im["id"] for im in images}
    subset = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
    (workdir / "val_subset.json").write_text(json.dumps(subset))
    return folder, workdir / "val_subset.json"


def person_key(person) -> tuple:
    """Everything stored about a person, comparable (ids left out)."""
    return (person.keypoints.round(6).tobytes(), json.dumps(person.mask_rle, sort_keys=True), person.iscrowd,
            person.score, person.provenance, person.model, json.dumps(person.settings, sort_keys=True),
            tuple(round(v, 6) for v in person.bbox))


PERSON_FIELDS = ("keypoints", "mask", "iscrowd", "score", "provenance", "model", "settings", "bbox")


def changed_fields(before: tuple, after: tuple | None) -> list[str]:
    """Which fields differ between two ``snapshot`` entries of an image."""
    if after is None:
        return ["the image"]
    fields = ["reviewed"] if before[0] != after[0] else []
    gone, new = set(before[1]) - set(after[1]), set(after[1]) - set(before[1])
    if len(gone) == len(new) == 1:
        (a,), (b,) = gone, new
        fields += [name for name, x, y in zip(PERSON_FIELDS, a, b) if x != y]
    elif gone or new:
        fields.append(f"{len(gone)} people replaced by {len(new)}")
    return fields


def snapshot(project) -> dict[int, tuple]:
    """Every image's review flag and people (as ``person_key``s, ids left out)."""
    return {i: (project.image(i).reviewed, sorted(person_key(p) for p in project.people(i).values()))
            for i in project.image_ids()}


def person_problem(person, height: int, width: int) -> str:
    """Why a stored person is invalid ('' if it is not)."""
    labelled = person.keypoints[person.keypoints[:, 2] > 0, :2]
    outside = (labelled < -0.5).any(axis=1) | (labelled[:, 0] > width) | (labelled[:, 1] > height)
    if outside.any():
        return f"{int(outside.sum())} labelled keypoints outside the {width} x {height} image"
    if person.mask_rle is not None:
        if list(person.mask_rle["size"]) != [height, width]:
            return f"mask of size {person.mask_rle['size']} on a {height} x {width} image"
        if mask_utils.area(person.mask_rle) == 0:
            return "an empty mask stored"
    return ""


def self_ap(path: Path) -> dict[str, tuple[float | None, float | None]]:
    """Keypoint and segm AP of the COCO file against itself, (each person in an image of
    its own, every image whole); None: nothing to evaluate. Whole images can score below
    1.0 in a valid file: COCOeval's greedy matching lets a person whose labelled keypoints
    are a subset of a neighbour's take that neighbour's match."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        alone = _one_person_per_image(gt)
        return {kind: (_evaluate(alone, kind), _evaluate(gt, kind)) for kind in ("keypoints", "segm")}


def _one_person_per_image(gt: COCO) -> COCO:
    images = {image["id"]: image for image in gt.dataset["images"]}
    anns = [{**a, "image_id": n + 1} for n, a in enumerate(gt.dataset["annotations"])]
    coco = COCO()
    coco.dataset = {"images": [{**images[a["image_id"]], "id": n + 1} for n, a in enumerate(gt.dataset["annotations"])],
                    "annotations": anns, "categories": gt.dataset["categories"]}
    coco.createIndex()
    return coco


def _evaluate(gt: COCO, kind: str) -> float | None:
    """AP of the non-crowd people as their own detections (every threshold, area "all")."""
    anns = [a for a in gt.dataset["annotations"] if not a.get("iscrowd")]
    if kind == "keypoints":
        dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": a["keypoints"],
                 "score": 1.0} for a in anns if a.get("num_keypoints", 0) > 0]
    else:
        dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                 "segmentation": gt.annToRLE(a)} for a in anns]
    if not dets:
        return None
    evaluation = COCOeval(gt, gt.loadRes(dets), kind)
    evaluation.params.maxDets = [1000] if kind == "keypoints" else [1, 10, 1000]
    evaluation.evaluate()
    evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=4, help="project images (default 4)")
    parser.add_argument("--size", type=int, default=257, help="network input long side (default 257)")
    parser.add_argument("--export-every", type=int, default=10, help="actions between export checks")
    parser.add_argument("--keep", type=Path, help="copy exports that fail their check into this folder")
    args = parser.parse_args(argv)
    from personlab_gui.gui.app import application

    app = application(offscreen_without_display=True)
    with tempfile.TemporaryDirectory(prefix="soak_gui_") as tmp:
        soak = Soak(Path(tmp), args.seed, args.images, args.size, args.export_every, args.keep)
        hook, sys.excepthook = sys.excepthook, lambda *exc: soak.crash("".join(traceback.format_exception(*exc)))
        try:
            summary = soak.run(args.actions)
        finally:
            sys.excepthook = hook
            soak.window.close()
            app.processEvents()
    print(json.dumps({**summary, "seed": args.seed}))
    return 0 if summary["crashes"] == 0 and summary["invariant_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
