"""Hostile COCO files and project stores (issue 10, and the export half of issue 9 item 2).

Every bad input gets one line naming the file and the record, never a traceback, and
leaves the project byte-for-byte as it was; a new project never replaces or removes a
file another process wrote; projects move with their images; read-only use writes
nothing; every exported person evaluates in pycocotools. Ends with a property-based test
mutating a real COCO file and a race of two processes creating one project.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from personlab_gui.cli import main
from personlab_gui.core.data.coco_eval import evaluate
from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import mask_to_rle
from personlab_gui.core.data.dataset import CocoPersonDataset
from personlab_gui.core.errors import CocoFormatError, InputError
from personlab_gui.core.project import PersonRecord, Project, ProjectExistsError, database_errors
from personlab_gui.core.project.coco import check_self_consistent, export_coco, import_coco
from personlab_gui.core.skeleton import K, coco_person_category

REPO = Path(__file__).resolve().parents[3]
H, W = 30, 40
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


# ------------------------------------------------------------------ helpers

def _images(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):   # encoded here: cv2.imwrite crashes on non-UTF-8 names
        (folder / name).write_bytes(cv2.imencode(".png", np.full((H, W, 3), 20 * i, np.uint8))[1].tobytes())
    return folder


def _keypoints(points: dict[int, tuple[float, float]]) -> list[float]:
    flat = [0.0] * (3 * K)
    for k, (x, y) in points.items():
        flat[3 * k:3 * k + 3] = [x, y, 2]
    return flat


def _dataset() -> dict:
    """Two images, two people: one with keypoints and a polygon, one with an RLE mask."""
    mask = np.zeros((H, W), bool)
    mask[5:20, 25:35] = True
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": W, "height": H},
                   {"id": 2, "file_name": "b.png", "width": W, "height": H}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "keypoints": _keypoints({0: (5, 5), 5: (8, 12)}),
             "num_keypoints": 2, "segmentation": [[2, 2, 18, 2, 18, 20, 2, 20]], "bbox": [2, 2, 16, 18],
             "area": 288, "iscrowd": 0},
            {"id": 11, "image_id": 2, "category_id": 1, "segmentation": mask_to_rle(mask),
             "bbox": [25, 5, 10, 15], "area": 150, "iscrowd": 0},
        ],
        "categories": [coco_person_category()],
    }


@pytest.fixture
def store(tmp_path):
    """(project file holding the good dataset, image folder, good COCO file)."""
    images = _images(tmp_path / "images", ["a.png", "b.png"])
    good = _write(tmp_path / "good.json", _dataset())
    plab = tmp_path / "p.plab"
    assert main(["project", "import", str(plab), "--coco", str(good), "--images", str(images)]) == 0
    return plab, images, good


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _one_line_error(capsys, *names: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert all(name in err[0] for name in names), err[0]
    return err[0]


def _refused_import(capsys, plab: Path, images: Path, coco: Path, *names: str) -> str:
    """Import ``coco`` into ``plab``: exit 2, one line naming ``names``, project bytes unchanged."""
    before = plab.read_bytes()
    assert main(["project", "import", str(plab), "--coco", str(coco), "--images", str(images)]) == 2
    line = _one_line_error(capsys, str(coco), *names)
    assert plab.read_bytes() == before and not Path(f"{plab}-wal").exists()
    return line


def _mutated(tmp_path: Path, mutate) -> Path:
    data = _dataset()
    mutate(data)
    return _write(tmp_path / "bad.json", data)


def _ann(data: dict, **fields) -> None:
    data["annotations"][0].update(fields)


# ------------------------------------------------------------------ geometry before pycocotools (item 5)

GEOMETRY = {
    "polygon at 1e9 (pycocotools segfaults)": (lambda d: _ann(d, segmentation=[[1e9, 2, 18, 2, 18, 20]]),
                                               "polygon lies outside the 40 x 30 image"),
    "polygon at 4e8 (20 GB in pycocotools)": (lambda d: _ann(d, segmentation=[[2, 2, 4e8, 2, 18, 4e8]]),
                                              "polygon lies outside"),
    "polygon at -1e6": (lambda d: _ann(d, segmentation=[[2, -1e6, 18, 2, 18, 20]]), "polygon lies outside"),
    "bbox far outside": (lambda d: _ann(d, bbox=[2, 2, 1e9, 18]), "bbox [2, 2, 1000000000.0, 18] lies outside"),
    "RLE of another size": (lambda d: d["annotations"][1]["segmentation"].update(size=[H, W + 1]),
                            "RLE size [30, 41] does not match"),
}


@pytest.mark.parametrize("case", GEOMETRY)
def test_geometry_is_checked_against_the_image_before_pycocotools(store, tmp_path, capsys, case):
    mutate, problem = GEOMETRY[case]
    plab, images, _ = store
    bad = _mutated(tmp_path, mutate)
    _refused_import(capsys, plab, images, bad, problem, "(annotation id 1")


def test_every_coco_reader_refuses_huge_polygons(store, tmp_path, capsys, qtbot):
    """project import (above), eval --gt, train's dataset and the app's Import COCO."""
    plab, images, _ = store
    bad = _mutated(tmp_path, GEOMETRY["polygon at 1e9 (pycocotools segfaults)"][0])
    assert main(["eval", "--gt", str(bad), "--images", str(images)]) == 2
    _one_line_error(capsys, str(bad), "polygon lies outside", "(annotation id 10)")
    with pytest.raises(CocoFormatError, match="polygon lies outside"):
        CocoPersonDataset(bad, images, input_size=257)
    files, messages = _app_files(qtbot, plab)
    assert not files.import_coco(str(bad), str(images))
    assert "polygon lies outside" in messages[-1] and "\n" not in messages[-1]


def _app_files(qtbot, plab: Path):
    """The app's File menu actions over an open project, with the messages they show."""
    from PySide6 import QtWidgets

    from personlab_gui.gui.actions import ActionRegistry
    from personlab_gui.gui.document import Document
    from personlab_gui.gui.project_files import ProjectFiles

    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    doc, messages = Document(), []
    files = ProjectFiles(ActionRegistry(window), doc, lambda: str(plab.parent), messages.append)
    files.opened.connect(doc.open_project)
    assert files.open(str(plab))
    return files, messages


def test_geometry_on_the_border_is_accepted(store, tmp_path):
    plab, images, _ = store
    data = _dataset()
    _ann(data, segmentation=[[0, 0, W + 0.5, 0, W + 0.5, H, 0, H]], bbox=[0, 0, W, H])
    with Project.open(plab) as project:
        assert import_coco(project, _write(tmp_path / "edge.json", data), images, add_duplicates=True).people == 2


# ------------------------------------------------------------------ RLE, sizes, keypoints (item 6)

RLE_COUNTS = {
    "non-ASCII text": ("éé", "RLE counts string is not valid compressed RLE"),
    "cut inside a run": ("P", "RLE counts string is not valid compressed RLE"),
    "too few pixels": ("0", "RLE counts sum to 0, expected height * width = 1200"),
    "list too short": ([100, 20], "RLE counts sum to 120"),
    "negative run": ([1300, -100], "RLE counts must be non-negative integers"),
}


@pytest.mark.parametrize("case", RLE_COUNTS)
def test_rle_counts_are_decoded_and_must_cover_the_image(store, tmp_path, capsys, case):
    counts, problem = RLE_COUNTS[case]
    plab, images, _ = store
    bad = _mutated(tmp_path, lambda d: d["annotations"][1]["segmentation"].update(counts=counts))
    _refused_import(capsys, plab, images, bad, problem, "(annotation id 11)")


def test_coco_size_must_be_the_image_files_size(shared_data, tmp_path, capsys):
    folder = shared_data / "coco_dev" / "val"
    data = json.loads((folder / "person_keypoints.json").read_text())
    image = next(i for i in data["images"] if (i["width"], i["height"]) == (640, 426))
    image.update(width=10, height=10)
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != image["id"]]
    bad = _write(tmp_path / "sizes.json", data)
    plab = tmp_path / "p.plab"
    assert main(["project", "import", str(plab), "--coco", str(bad), "--images", str(folder / "images")]) == 2
    _one_line_error(capsys, "width x height 10 x 10", f"the file {image['file_name']} is 640 x 426",
                    f"(image id {image['id']})")
    assert not any(tmp_path.glob("*.plab*")) and not any(tmp_path.glob(".p.plab*"))


@pytest.mark.parametrize("x, y", [(1e300, 5), (5, -1e12), (W + 20, 5)])
def test_labelled_keypoints_must_lie_on_the_image(store, tmp_path, capsys, x, y):
    plab, images, _ = store
    bad = _mutated(tmp_path, lambda d: _ann(d, keypoints=_keypoints({0: (5, 5), 3: (x, y)})))
    _refused_import(capsys, plab, images, bad, "keypoint 3 at", "lies outside the 40 x 30 image", "(annotation id 10)")


def test_unlabelled_keypoints_may_be_anywhere_and_export_as_zeros(store, tmp_path):
    plab, images, _ = store
    data = _dataset()
    keypoints = _keypoints({0: (5, 5)})
    keypoints[3:6] = [1e300, -1e12, 0]
    _ann(data, keypoints=keypoints, num_keypoints=1)
    with Project.open(plab) as project:
        import_coco(project, _write(tmp_path / "v0.json", data), images, add_duplicates=True)
        export_coco(project, tmp_path / "out.json")
    exported = json.loads((tmp_path / "out.json").read_text())["annotations"]
    assert all(a["keypoints"][3:6] == [0.0, 0.0, 0] for a in exported)


# ------------------------------------------------------------------ malformed files (item 9, COCO part)

def _deep(_data: dict) -> str:
    return "[" * 100_000 + "]" * 100_000


def _digits(count: int):
    def text(data: dict) -> str:
        return json.dumps(data).replace('"id": 10,', f'"id": {"9" * count},', 1)
    return text


MALFORMED = {
    "NUL byte in file_name": (lambda d: d["images"][0].update(file_name="a\x00.png"), "file_name contains a NUL byte"),
    "category keypoints not a list": (lambda d: d["categories"][0].update(keypoints="nose"),
                                      "category 'keypoints' must be a list of names"),
    "category with 16 keypoints": (lambda d: d["categories"][0].update(keypoints=d["categories"][0]["keypoints"][1:]),
                                   "lists 16 keypoints, expected 17"),
    "48 keypoint values": (lambda d: _ann(d, keypoints=[0] * 48), "keypoints must be 51 finite numbers"),
    "num_keypoints 99": (lambda d: _ann(d, num_keypoints=99), "num_keypoints must be an integer from 0 to 17"),
    "file_name with '..'": (lambda d: d["images"][1].update(file_name="../outside.png"), "'..' not allowed"),
    "absolute file_name": (lambda d: d["images"][1].update(file_name="/etc/passwd"), "absolute path not allowed"),
    "over-long file_name": (lambda d: d["images"][1].update(file_name="x" * 300 + ".png"),
                            "file_name is too long for a file path"),
    "400-digit coordinate": (lambda d: _ann(d, bbox=[10 ** 400, 2, 16, 18]), "bbox must be 4 finite numbers"),
    "id over 64 bits": (lambda d: _ann(d, id=2 ** 64), "'id' is not an integer"),
    "deeply nested JSON": (_deep, "invalid JSON: nested too deeply"),
    "5000-digit integer": (_digits(5000), "invalid JSON: an integer with too many digits"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_coco_is_one_line_and_changes_nothing(store, tmp_path, capsys, case):
    mutate, problem = MALFORMED[case]
    plab, images, _ = store
    _images(tmp_path, ["outside.png"])
    data = _dataset()
    text = mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(text if isinstance(text, str) else json.dumps(data))
    _refused_import(capsys, plab, images, bad, problem)


def test_file_name_through_a_link_out_of_the_image_folder(store, tmp_path, capsys):
    plab, images, _ = store
    _images(tmp_path / "elsewhere", ["secret.png"])
    (images / "link").symlink_to(tmp_path / "elsewhere")
    bad = _mutated(tmp_path, lambda d: d["images"][1].update(file_name="link/secret.png"))
    _refused_import(capsys, plab, images, bad, "resolves outside")


def test_non_utf8_file_name(store, tmp_path, capsys):
    plab, images, _ = store
    name = os.fsdecode(b"caf\xe9.png")
    try:
        _images(images, [name])
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system refuses non-UTF-8 names")
    bad = _mutated(tmp_path, lambda d: d["images"][1].update(file_name=name))
    _refused_import(capsys, plab, images, bad, "not UTF-8")


# ------------------------------------------------------------------ re-import (fragile)

def test_importing_the_same_people_again_is_refused_unless_asked(store, capsys):
    plab, images, good = store
    _refused_import(capsys, plab, images, good, "2 of its 2 people were imported into these images before",
                    "--add-duplicates")
    argv = ["project", "import", str(plab), "--coco", str(good), "--images", str(images), "--add-duplicates"]
    assert main(argv) == 0
    with Project.open(plab) as project:
        assert sum(project.count_people().values()) == 4


def test_the_app_asks_before_importing_the_same_people_again(store, qtbot):
    plab, images, good = store
    files, messages = _app_files(qtbot, plab)
    asked = []
    files.ask_to_add_duplicates = lambda name, count, total: asked.append((name, count, total)) or False
    assert not files.import_coco(str(good), str(images))
    assert asked == [("good.json", 2, 2)] and "Not imported" in messages[-1]
    files.ask_to_add_duplicates = lambda *args: True
    assert files.import_coco(str(good), str(images))
    assert sum(files.doc.project.count_people().values()) == 4


# ------------------------------------------------------------------ new projects and other processes (item 2)

def test_a_failed_build_never_removes_a_project_another_process_created(tmp_path):
    images = _images(tmp_path / "images", ["a.png"])
    path = tmp_path / "p.plab"
    with pytest.raises(CocoFormatError):
        with Project.build(path, images):
            with Project.create(path, images) as other:         # another process, meanwhile
                other.add_person(other.add_images(["a.png"])[0], PersonRecord(np.zeros((K, 3))))
            raise CocoFormatError("x.json", "this import failed")
    with Project.open(path) as project:
        assert project.count_images() == 1 and sum(project.count_people().values()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "p.plab"]


def test_a_finished_build_never_replaces_a_project_created_meanwhile(tmp_path):
    images = _images(tmp_path / "images", ["a.png", "b.png"])
    path = tmp_path / "p.plab"
    with pytest.raises(ProjectExistsError, match="created by another process meanwhile"):
        with Project.build(path, images) as building:
            building.add_images(["b.png"])
            Project.create(path, images).close()
    with Project.open(path) as project:
        assert project.count_images() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "p.plab"]


def test_cli_import_into_a_project_created_meanwhile_goes_into_it(tmp_path, monkeypatch, capsys):
    from personlab_gui.commands import project as command

    images = _images(tmp_path / "images", ["a.png", "b.png"])
    good = _write(tmp_path / "good.json", _dataset())
    path = tmp_path / "p.plab"
    calls = []

    def racing_import(project, *args):
        if not calls:                                             # another process creates and edits it
            with Project.create(path, images) as other:
                other.add_person(other.add_images(["a.png"])[0], PersonRecord(np.zeros((K, 3))))
        calls.append(project.path)
        return import_coco(project, *args)

    monkeypatch.setattr(command, "import_coco", racing_import)
    assert main(["project", "import", str(path), "--coco", str(good), "--images", str(images)]) == 0
    assert len(calls) == 2
    with Project.open(path) as project:
        assert sum(project.count_people().values()) == 3


RACER = """
import sys
from personlab_gui.cli import main
sys.exit(main(["project", "import", *sys.argv[1:]]))
"""

EDITOR = """
import sys, time
import numpy as np
from personlab_gui.core.project import PersonRecord, Project
deadline = time.monotonic() + 60
while True:
    try:
        project = Project.open(sys.argv[1])
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.01)
image = project.image_ids()[0]
for i in range(5):
    print(project.add_person(image, PersonRecord(np.zeros((17, 3)), score=float(i))), flush=True)
"""


def test_two_processes_creating_one_project_never_remove_each_others_work(tmp_path):
    """A good and a failing import start together on a new project, with an editor that
    writes into the project as soon as it appears: the good import's people and every
    edit the editor reported stay, whatever the order."""
    images = _images(tmp_path / "images", ["a.png", "b.png"])
    good = _write(tmp_path / "good.json", _dataset())
    bad = _write(tmp_path / "bad.json", {**_dataset(), "images": [{"id": 1, "file_name": "missing.png",
                                                                   "width": W, "height": H}]})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for trial in range(2):
        path = tmp_path / f"p{trial}.plab"
        runs = [subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for code, args in ((EDITOR, [str(path)]),
                                   (RACER, [str(path), "--coco", str(bad), "--images", str(images)]),
                                   (RACER, [str(path), "--coco", str(good), "--images", str(images)]))]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0, 2, 0], outputs
        edits = {int(line) for line in outputs[0][0].split()}
        assert len(edits) == 5
        with Project.open(path) as project:
            people = {pid for image in project.image_ids() for pid in project.people(image)}
            assert edits <= people and len(people) == 7
    assert not list(tmp_path.glob(".*building*"))


# ------------------------------------------------------------------ moving projects and images (item 7)

@pytest.mark.parametrize("layout", ["images below the project", "images beside the project's folder"])
def test_a_project_moved_with_its_images_still_finds_them(tmp_path, layout):
    below = layout == "images below the project"
    plab = tmp_path / "set" / ("p.plab" if below else "projects/p.plab")
    images = _images(tmp_path / "set" / "images", ["a.png"])
    plab.parent.mkdir(parents=True, exist_ok=True)
    with Project.create(plab, images) as project:
        project.add_images(["a.png"])
        assert project.meta()["image_root"] == ("images" if below else "../images")
    shutil.move(tmp_path / "set", tmp_path / "moved")
    moved = tmp_path / "moved" / plab.relative_to(tmp_path / "set")
    with Project.open(moved) as project:
        assert project.image_root == tmp_path / "moved" / "images" and not project.images_missing()
        assert project.image_file(project.image_ids()[0]).is_file()
        assert not project.image_changed(project.image_ids()[0])


def test_a_project_moved_alone_uses_its_absolute_root(tmp_path):
    images = _images(tmp_path / "images", ["a.png"])
    with Project.create(tmp_path / "p.plab", images) as project:
        project.add_images(["a.png"])
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "p.plab", tmp_path / "elsewhere" / "p.plab")
    with Project.open(tmp_path / "elsewhere" / "p.plab") as project:
        assert project.image_root == images and project.image_file(project.image_ids()[0]).is_file()


def test_an_old_project_with_an_absolute_root_still_works(tmp_path):
    images = _images(tmp_path / "images", ["a.png"])
    with Project.create(tmp_path / "p.plab", images) as project:
        project.add_images(["a.png"])
        with project.transaction():
            project._conn.execute("UPDATE meta SET value = ? WHERE key = 'image_root'", (str(images),))
            project._conn.execute("DELETE FROM meta WHERE key = 'image_root_absolute'")
    with Project.open(tmp_path / "p.plab") as project:
        assert project.image_root == images and project.image_file(project.image_ids()[0]).is_file()


def test_cli_re_points_a_moved_image_folder(store, tmp_path, capsys):
    plab, images, _ = store
    shutil.move(images, tmp_path / "new_place")
    images.mkdir()                                                 # an empty folder where they were
    assert main(["project", "info", str(plab)]) == 0
    assert "(missing: re-point it with 'personlab-gui project root')" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["project", "root", str(plab), str(tmp_path / "empty")]) == 2
    _one_line_error(capsys, "none of the project's 2 images is in this folder")
    assert main(["project", "root", str(plab), str(tmp_path / "new_place")]) == 0
    assert "(2 of 2 images found)" in capsys.readouterr().out
    with Project.open(plab) as project:
        assert project.image_root == tmp_path / "new_place" and not project.image_changed(project.image_ids()[0])


def test_the_app_relocates_moved_images(store, tmp_path, qtbot):
    plab, images, _ = store
    shutil.move(images, tmp_path / "new_place")
    files, messages = _app_files(qtbot, plab)
    assert "File > Relocate images" in messages[-1]
    assert files.relocate(str(tmp_path / "new_place"))
    assert "2 of 2 found" in messages[-1] and not files.doc.project.images_missing()


# ------------------------------------------------------------------ read-only and damaged stores (item 8)

def test_info_on_an_empty_file_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty.plab"
    empty.write_bytes(b"")
    assert main(["project", "info", str(empty)]) == 2
    _one_line_error(capsys, "not a PersonLab project file (an empty file)")
    assert empty.read_bytes() == b"" and sorted(tmp_path.iterdir()) == [empty]


def test_a_damaged_project_is_one_line_on_export_and_info(store, tmp_path, capsys):
    plab, _, _ = store
    with open(plab, "r+b") as f:                                  # every page but the header's
        f.seek(4096)
        f.write(b"\xff" * (plab.stat().st_size - 4096))
    assert main(["project", "export", str(plab), "--out", str(tmp_path / "out.json")]) == 2
    _one_line_error(capsys, "damaged project file")
    assert main(["project", "info", str(plab)]) == 2
    _one_line_error(capsys, "damaged project file")
    plab.write_bytes(b"\x00" * 4096)
    assert main(["project", "info", str(plab)]) == 2
    _one_line_error(capsys, str(plab))
    assert not (tmp_path / "out.json").exists()


@pytest.mark.skipif(ROOT_USER, reason="root writes read-only files and folders anyway")
def test_a_read_only_project_exports_and_refuses_imports_in_one_line(store, tmp_path, capsys):
    plab, images, good = store
    plab.chmod(0o444)
    plab.parent.chmod(0o555)
    try:
        assert main(["project", "info", str(plab)]) == 0
        assert main(["project", "export", str(plab), "--out", str(tmp_path.parent / f"{tmp_path.name}.json")]) == 0
        capsys.readouterr()
        argv = ["project", "import", str(plab), "--coco", str(good), "--images", str(images), "--add-duplicates"]
        assert main(argv) == 2
        _one_line_error(capsys, "read-only")
    finally:
        plab.parent.chmod(0o755)
    assert sorted(p.name for p in plab.parent.iterdir() if p.name.startswith("p.plab")) == ["p.plab"]


def test_changing_a_project_without_write_access_is_one_line(store, capsys, monkeypatch):
    """What the test above checks with real permissions, for root too (who may write anyway)."""
    from personlab_gui.core.project import store as project_module

    plab, images, good = store
    before = plab.read_bytes()
    monkeypatch.setattr(project_module.os, "access", lambda path, mode: mode != os.W_OK)
    argv = ["project", "import", str(plab), "--coco", str(good), "--images", str(images), "--add-duplicates"]
    assert main(argv) == 2
    _one_line_error(capsys, str(plab), "read-only", "exporting works")
    assert main(["project", "info", str(plab)]) == 0
    assert plab.read_bytes() == before


def test_read_only_opens_never_write_nor_migrate(store):
    plab, _, _ = store
    before = plab.read_bytes()
    with Project.open(plab, read_only=True) as project:
        assert project.count_images() == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            project.set_review(project.image_ids()[0], True)
    assert plab.read_bytes() == before


@pytest.mark.parametrize("error, problem", [
    (sqlite3.OperationalError("database is locked"), "locked by another program"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (sqlite3.DatabaseError("database disk image is malformed"), "damaged"),
    (OverflowError("Python int too large to convert to SQLite INTEGER"), "a number too large"),
])
def test_sqlite_errors_become_one_line(error, problem):
    with pytest.raises(InputError, match=problem) as info:
        with database_errors("p.plab"):
            raise error
    assert str(info.value).startswith("p.plab: ") and "\n" not in str(info.value)


def test_sqlite_integer_overflow_from_a_real_query_is_one_line(store):
    plab, _, _ = store
    with Project.open(plab) as project, pytest.raises(InputError, match="over 64 bits"):
        with database_errors(plab):
            project.set_review(2 ** 70, True)


# ------------------------------------------------------------------ export (issue 9 item 2, fragile items)

def test_every_exported_person_evaluates_for_keypoints_and_segm(store, tmp_path, capsys):
    plab, _, _ = store
    with Project.open(plab) as project:
        a, b = project.image_ids()
        project.add_person(a, PersonRecord(np.array(_keypoints({3: (W - 0.2, 7)})).reshape(K, 3)))  # one keypoint, edge
        project.add_person(b, PersonRecord(np.zeros((K, 3)), bbox=(3, 4, 5, 6)))                     # a box only
        nothing = project.add_person(b, PersonRecord(np.zeros((K, 3))))                              # nothing at all
    out = tmp_path / "out.json"
    assert main(["project", "export", str(plab), "--out", str(out)]) == 0
    assert f"warning: person {nothing} on b.png: no mask, keypoint or box; not exported" in capsys.readouterr().err
    data = load_coco(out)
    assert len(data["annotations"]) == 4
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    for ann in data["annotations"]:
        assert ann["area"] > 0 and ann["segmentation"] and len(ann["bbox"]) == 4
        assert coco.annToMask(ann).sum() > 0
    results = [{**a, "score": 1.0, "segmentation": coco.annToRLE(a)} for a in data["annotations"]]
    scores = evaluate(data, results, iou_types=("keypoints", "segm"))
    assert scores["keypoints"]["AP"] == pytest.approx(1.0) and scores["segm"]["AP"] == pytest.approx(1.0)


def test_self_check_accepts_a_person_whose_keypoints_are_a_subset_of_a_neighbours():
    """The 0.9926 of issue 9: the neighbour's detection matched this person's ground truth."""
    five, two = _keypoints({k: (10 + 5 * k, 10 + 3 * k) for k in range(5)}), _keypoints({0: (10, 10), 1: (15, 13)})
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "categories": [coco_person_category()],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": five, "num_keypoints": 5,
                             "bbox": [10, 10, 20, 12], "area": 240, "iscrowd": 0,
                             "segmentation": [[10, 10, 30, 10, 30, 22, 10, 22]]},
                            {"id": 2, "image_id": 1, "category_id": 1, "keypoints": two, "num_keypoints": 2,
                             "bbox": [10, 10, 5, 3], "area": 15, "iscrowd": 0,
                             "segmentation": [[10, 10, 15, 10, 15, 13, 10, 13]]}]}
    check_self_consistent(data, "out.json")


def test_self_check_work_is_linear_in_people_per_image(monkeypatch):
    """300 people on one image: COCOeval never compares two people (it did every pair)."""
    sizes = []
    for name in ("computeOks", "computeIoU"):
        original = getattr(COCOeval, name)

        def spy(self, img_id, cat_id, original=original):
            result = original(self, img_id, cat_id)
            sizes.append(np.shape(result))
            return result
        monkeypatch.setattr(COCOeval, name, spy)
    rng = np.random.default_rng(0)
    annotations = []
    for i in range(300):
        x, y = rng.uniform(0, 500, 2)
        annotations.append({"id": i + 1, "image_id": 1, "category_id": 1, "num_keypoints": 1, "iscrowd": 0,
                            "keypoints": _keypoints({0: (x + 1, y + 1)}), "bbox": [x, y, 4, 4], "area": 16,
                            "segmentation": [[x, y, x + 4, y, x + 4, y + 4, x, y + 4]]})
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 512, "height": 512}],
            "annotations": annotations, "categories": [coco_person_category()]}
    check_self_consistent(data, "out.json")
    assert len(sizes) == 600 and max(sizes) == (1, 1)


def test_pseudo_labels_round_trip_and_pass_the_self_check(shared_data, tmp_path):
    """infer --format dataset style labels (scores; keypoint-only, mask-only and
    near-duplicate people) on real images: import, export, re-import, export the same."""
    folder = shared_data / "coco_dev" / "val"
    data = json.loads((folder / "person_keypoints.json").read_text())
    data["annotations"] = [a for a in data["annotations"] if not a["iscrowd"]]
    extra = []
    for i, ann in enumerate(data["annotations"]):
        ann["score"] = round(0.3 + 0.01 * i, 4)
        if ann["num_keypoints"] >= 4 and i % 3 == 0:                  # a near-duplicate: some of its keypoints
            twin = copy.deepcopy(ann)
            kept = [k for k in range(K) if ann["keypoints"][3 * k + 2] > 0][:2]
            twin["keypoints"] = [v if k in kept else 0 for k in range(K) for v in ann["keypoints"][3 * k:3 * k + 3]]
            twin.update(id=10 ** 7 + i, num_keypoints=len(kept))
            twin.pop("segmentation")
            extra.append(twin)
    data["annotations"] += extra
    source = _write(tmp_path / "pseudo.json", data)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for plab, coco, out in ((tmp_path / "a.plab", source, first), (tmp_path / "b.plab", first, second)):
        assert main(["project", "import", str(plab), "--coco", str(coco), "--images", str(folder / "images")]) == 0
        assert main(["project", "export", str(plab), "--out", str(out)]) == 0
    a, b = load_coco(first), load_coco(second)
    assert len(a["annotations"]) == len(b["annotations"]) == len(data["annotations"])
    assert [x["keypoints"] for x in a["annotations"]] == [x["keypoints"] for x in b["annotations"]]


# ------------------------------------------------------------------ random mutations of a real COCO file

_NUMBERS = st.one_of(st.integers(-10 ** 12, 10 ** 12), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0, -1, 1, 0.5, 1e9, 4e8, 2 ** 63, -(2 ** 63) - 1, 10 ** 30]))
_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), _NUMBERS, st.text(max_size=12)),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=3),
                       max_leaves=8)
_FIELDS = {"images": ["id", "file_name", "width", "height"],
           "annotations": ["id", "image_id", "category_id", "bbox", "area", "iscrowd", "keypoints",
                           "num_keypoints", "segmentation", "score"],
           "categories": ["id", "name", "keypoints"]}


def _mutate(data: dict, draw) -> None:
    """One random change: a field set to any JSON value, a number inside a list field
    changed, a field removed, or a record repeated."""
    section = draw(st.sampled_from(sorted(_FIELDS)))
    records = data[section]
    record = records[draw(st.integers(0, len(records) - 1))]
    field = draw(st.sampled_from(_FIELDS[section]))
    kind = draw(st.sampled_from(["set", "element", "delete", "repeat"]))
    if kind == "set":
        record[field] = draw(_VALUES)
    elif kind == "element" and isinstance(record.get(field), list) and record[field]:
        target = record[field]
        if isinstance(target[0], list):                               # polygons
            target = target[draw(st.integers(0, len(target) - 1))]
        target[draw(st.integers(0, len(target) - 1))] = draw(_NUMBERS)
    elif kind == "delete":
        record.pop(field, None)
    else:
        records.append(copy.deepcopy(record))


@pytest.fixture(scope="module")
def val_set(shared_data):
    folder = shared_data / "coco_dev" / "val"
    if not (folder / "person_keypoints.json").is_file():
        pytest.skip(f"COCO dev validation data not found at {folder}")
    return json.loads((folder / "person_keypoints.json").read_text()), folder / "images"


@settings(max_examples=60, deadline=timedelta(seconds=60), derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_mutations_either_import_and_export_or_change_nothing(val_set, data):
    original, images = val_set
    coco = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(coco, data.draw)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plab = tmp / "p.plab"
        Project.create(plab, images).close()
        before = plab.read_bytes()
        mutated = tmp / "mutated.json"
        mutated.write_text(json.dumps(coco))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["project", "import", str(plab), "--coco", str(mutated), "--images", str(images)])
        event("imported" if code == 0 else "refused")
        if code == 0:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                assert main(["project", "export", str(plab), "--out", str(tmp / "out.json")]) == 0, err.getvalue()
            load_coco(tmp / "out.json")
        else:
            lines = err.getvalue().strip().splitlines()
            assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {mutated}: "), lines
            assert plab.read_bytes() == before and not Path(f"{plab}-wal").exists()
