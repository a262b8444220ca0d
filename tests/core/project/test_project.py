"""Annotation projects: storage, crash safety, migration, COCO import/export and the CLI."""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from personlab_gui.cli import main
from personlab_gui.core.project import database as project_database
from personlab_gui.core.project import coco as project_coco
from personlab_gui.core.data.coco_write import annotation_mask, mask_to_rle
from personlab_gui.core.errors import CocoFormatError, InputError
from personlab_gui.core.project import PersonRecord, Project
from personlab_gui.core.project.database import SCHEMA_VERSION
from personlab_gui.core.project.coco import (DuplicateImportError, check_self_consistent, export_coco,
                                             import_coco)
from personlab_gui.core.skeleton import K, coco_person_category

REPO = Path(__file__).resolve().parents[3]
H, W = 30, 40


def _keypoints(points: dict[int, tuple[float, float]]) -> np.ndarray:
    keypoints = np.zeros((K, 3))
    for k, (x, y) in points.items():
        keypoints[k] = (x, y, 2)
    return keypoints


def _box_rle(x0: int, y0: int, x1: int, y1: int) -> dict:
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask_to_rle(mask)


def _images(root: Path, names: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(root / name), np.full((H, W, 3), 10 * i, dtype=np.uint8))


@pytest.fixture
def root(tmp_path) -> Path:
    _images(tmp_path / "images", [f"{c}.png" for c in "abcde"])
    return tmp_path / "images"


@pytest.fixture
def project(tmp_path, root):
    with Project.create(tmp_path / "p.plab", root) as project:
        yield project


def _dataset() -> dict:
    """A small valid COCO file: keypoints + polygon, crowd RLE, a maskless and a keypointless person."""
    kp = _keypoints({0: (5, 5), 5: (8, 12), 6: (14, 12)}).ravel().tolist()
    crowd = mask_utils.encode(np.asfortranarray(np.pad(np.ones((5, 5), np.uint8), ((20, 5), (30, 5)))))
    return {
        "images": [{"id": 7, "file_name": "a.png", "width": W, "height": H},
                   {"id": 9, "file_name": "b.png", "width": W, "height": H}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "keypoints": kp, "num_keypoints": 3,
             "segmentation": [[2, 2, 18, 2, 18, 20, 2, 20]], "bbox": [2, 2, 16, 18], "area": 288, "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0,
             "segmentation": {"size": [H, W], "counts": crowd["counts"].decode()},
             "bbox": [30, 20, 5, 5], "area": 25, "iscrowd": 1},
            {"id": 3, "image_id": 9, "category_id": 1, "keypoints": kp, "num_keypoints": 3,
             "bbox": [5, 5, 9, 7], "area": 63, "iscrowd": 0},
            {"id": 4, "image_id": 9, "category_id": 1, "segmentation": [[20, 5, 30, 5, 30, 25, 20, 25]],
             "bbox": [20, 5, 10, 20], "area": 200, "iscrowd": 0},
        ],
        "categories": [coco_person_category()],
    }


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _counts(project: Project) -> tuple:
    return project.count_images(), project.count_reviewed(), tuple(project.count_people().values())


# ------------------------------------------------------------------ 1. round trip on real data

def test_coco_dev_round_trip(shared_data, tmp_path):
    folder = shared_data / "coco_dev" / "train"
    original = json.loads((folder / "person_keypoints.json").read_text())
    with Project.create(tmp_path / "p.plab", folder / "images") as project:
        counts = import_coco(project, folder / "person_keypoints.json", folder / "images")
        assert (counts.images, counts.people) == (41, 179)
        export_coco(project, tmp_path / "out.json")
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["categories"] == [coco_person_category()]
    assert min(a["id"] for a in exported["annotations"]) >= 1 and min(i["id"] for i in exported["images"]) >= 1
    _assert_same_people(original, exported)


def _assert_same_people(original: dict, exported: dict) -> None:
    def by_image(data: dict) -> dict[str, list[dict]]:
        names = {image["id"]: (image["file_name"], image["height"], image["width"]) for image in data["images"]}
        grouped: dict = {}
        for ann in data["annotations"]:
            grouped.setdefault(names[ann["image_id"]], []).append(ann)
        return grouped

    before, after = by_image(original), by_image(exported)
    assert before.keys() == after.keys()
    for (name, h, w), people in before.items():
        assert len(people) == len(after[(name, h, w)])
        for a, b in zip(people, after[(name, h, w)]):
            ka, kb = np.reshape(a["keypoints"], (K, 3)), np.reshape(b["keypoints"], (K, 3))
            assert np.array_equal(ka[:, 2], kb[:, 2]) and np.allclose(ka[ka[:, 2] > 0], kb[kb[:, 2] > 0])
            assert a["iscrowd"] == b["iscrowd"] and b["num_keypoints"] == int((ka[:, 2] > 0).sum())
            assert isinstance(b["segmentation"], dict) == bool(b["iscrowd"])
            rle_a = mask_utils.encode(np.asfortranarray(annotation_mask(a, h, w), dtype=np.uint8))
            rle_b = mask_utils.encode(np.asfortranarray(annotation_mask(b, h, w), dtype=np.uint8))
            assert mask_utils.iou([rle_b], [rle_a], [0])[0, 0] >= 0.99


# ------------------------------------------------------------------ 2. crash safety

CHILD = """
import sys
import numpy as np
from personlab_gui.core.project import PersonRecord, Project

project = Project.open(sys.argv[1])
image = project.image_ids()[0]
first = project.add_person(image, PersonRecord(np.zeros((17, 3)), score=-1.0))
print("first", first, flush=True)
for i in range(1_000_000):
    if i % 2:
        project.update_person(first, score=float(i))
    else:
        project.add_person(image, PersonRecord(np.zeros((17, 3)), score=float(i)))
    print(i, flush=True)
"""


def test_sigkill_loses_no_committed_edit(project, tmp_path):
    project.add_images(["a.png"])
    project.close()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, str(script), str(project.path)],
                             stdout=subprocess.PIPE, text=True, env=env)
    first = int(child.stdout.readline().split()[1])
    reported = []
    for line in child.stdout:
        reported.append(int(line))
        if len(reported) == 300:
            child.send_signal(signal.SIGKILL)
            break
    reported += [int(line) for line in child.stdout if line.strip()]  # committed before the kill
    child.wait()
    assert child.returncode == -signal.SIGKILL and len(reported) >= 300
    with Project.open(project.path) as reopened:
        assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        people = reopened.people(reopened.image_ids()[0])
        added = {p.score for pid, p in people.items() if pid != first}
        assert {float(i) for i in reported if i % 2 == 0} <= added
        assert people[first].score >= max(i for i in reported if i % 2)


# ------------------------------------------------------------------ 3. malformed imports

def _bad(mutate):
    data = _dataset()
    mutate(data)
    return data


MALFORMED = {
    "missing field": lambda d: d["annotations"][2].pop("bbox"),
    "wrong keypoint count": lambda d: d["annotations"][0].update(keypoints=[0] * 48),
    "category with 16 keypoints": lambda d: d["categories"][0].update(keypoints=d["categories"][0]["keypoints"][:16]),
    "bad polygon": lambda d: d["annotations"][3].update(segmentation=[[1, 2, 3, 4, 5]]),
    "unknown image": lambda d: d["annotations"][3].update(image_id=99),
    "repeated annotation id": lambda d: d["annotations"][3].update(id=1),
    "repeated image id": lambda d: d["images"][1].update(id=7),
    "path escaping root": lambda d: d["images"][1].update(file_name="../outside.png"),
    "absolute path": lambda d: d["images"][1].update(file_name="/etc/passwd"),
    "missing image file": lambda d: d["images"][1].update(file_name="missing.png"),
    "shared file_name": lambda d: d["images"][1].update(file_name="a.png"),
    "bad score": lambda d: d["annotations"][3].update(score="high"),
    "no person category": lambda d: d["categories"][0].update(name="people"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_import_changes_nothing(project, root, tmp_path, case):
    _images(tmp_path, ["outside.png"])
    import_coco(project, _write(tmp_path / "good.json", _dataset()), root)
    before = _counts(project)
    with pytest.raises(InputError) as exc:
        import_coco(project, _write(tmp_path / "bad.json", _bad(MALFORMED[case])), root)
    assert "\n" not in str(exc.value) and str(exc.value)
    assert _counts(project) == before


def test_failure_inside_the_import_transaction_rolls_everything_back(project, root, tmp_path, monkeypatch):
    calls = []

    def failing_add_person(image_id, person):
        calls.append(image_id)
        if len(calls) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return Project.add_person(project, image_id, person)

    monkeypatch.setattr(project, "add_person", failing_add_person)
    with pytest.raises(sqlite3.OperationalError):
        import_coco(project, _write(tmp_path / "good.json", _dataset()), root)
    assert _counts(project) == (0, 0, (0, 0, 0, 0))


def test_import_reads_pseudo_labels_and_keeps_keypointless_people(project, root, tmp_path):
    data = _dataset()
    for ann in data["annotations"]:
        ann["score"] = 0.5 + ann["id"] / 10
    import_coco(project, _write(tmp_path / "pseudo.json", data), root)
    assert project.count_people()["predicted"] == 4
    keypointless = project.people(project.image_ids()[1])
    person = list(keypointless.values())[1]
    assert (person.keypoints == 0).all() and person.mask_area() == 10 * 20
    assert project.lowest_score_person() == (project.image_ids()[0], min(project.people(project.image_ids()[0])))


def test_import_through_a_linked_folder_from_a_subfolder_and_again(project, root, tmp_path):
    good = _write(tmp_path / "good.json", _dataset())
    (tmp_path / "link").symlink_to(root)
    import_coco(project, good, tmp_path / "link")
    _images(root / "sub", ["a.png", "b.png"])
    import_coco(project, good, root / "sub")
    with pytest.raises(DuplicateImportError, match="4 of its 4 people were imported into these images before"):
        import_coco(project, good, root)
    assert len(project.people(project.image_ids()[0])) == 2
    import_coco(project, good, root, add_duplicates=True)
    assert [project.image(i).path for i in project.image_ids()] == ["a.png", "b.png", "sub/a.png", "sub/b.png"]
    assert len(project.people(project.image_ids()[0])) == 4 and len(project.people(project.image_ids()[2])) == 2


# ------------------------------------------------------------------ 4. schema migration

def test_empty_file_is_migrated(tmp_path):
    path = tmp_path / "old.plab"
    path.write_bytes(b"")
    with Project.open(path) as project:
        assert project._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert project._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert project.image_root == tmp_path and project.count_images() == 0


def test_old_schema_is_migrated_and_a_failed_migration_changes_nothing(project, monkeypatch):
    project.add_images(["a.png"])
    project.close()
    failing = "ALTER TABLE images ADD COLUMN note TEXT; SELECT * FROM nowhere"
    monkeypatch.setattr(project_database, "MIGRATIONS", (*project_database.MIGRATIONS, failing))
    monkeypatch.setattr(project_database, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(InputError, match=f"cannot migrate schema {SCHEMA_VERSION} to {SCHEMA_VERSION + 1} "
                                         ".no such table: nowhere"):
        Project.open(project.path)
    monkeypatch.setattr(project_database, "MIGRATIONS", (*project_database.MIGRATIONS[:-1],
                                                       "ALTER TABLE images ADD COLUMN note TEXT"))
    with Project.open(project.path) as migrated:
        assert migrated._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert migrated._conn.execute("SELECT note FROM images").fetchall() == [(None,)]


def test_files_that_are_not_projects_are_refused(tmp_path):
    (tmp_path / "text.plab").write_text("hello, I am not a database" * 10)
    foreign = tmp_path / "foreign.plab"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    newer = tmp_path / "newer.plab"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for name, problem in [("text.plab", "not a PersonLab project"), ("foreign.plab", "other tables"),
                          ("newer.plab", "newer"), ("missing.plab", "not found")]:
        with pytest.raises(InputError, match=problem) as exc:
            Project.open(tmp_path / name)
        assert "\n" not in str(exc.value)


# ------------------------------------------------------------------ 5. browsing, queue, edits

def test_next_and_previous_image_follow_the_order_and_review_state(project):
    ids = project.add_images(["c.png", "a.png", "e.png", "b.png"])
    assert project.add_images(["a.png", "d.png"])[0] == ids[1]
    ids.append(project.image_ids()[-1])
    assert project.image_ids() == ids and project.next_image() == ids[0] and project.previous_image() == ids[-1]
    assert [project.next_image(i) for i in ids] == ids[1:] + [None]
    assert [project.previous_image(i) for i in ids] == [None] + ids[:-1]
    project.set_review(ids[1], True)
    project.set_review(ids[2], True)
    assert project.next_image(ids[0], unreviewed_only=True) == ids[3]
    assert project.previous_image(ids[3], unreviewed_only=True) == ids[0]
    assert project.count_reviewed() == 2 and project.image_ids(reviewed_only=True) == ids[1:3]
    assert project.image(ids[1]).reviewed and project.image(ids[1]).path == "a.png"
    with pytest.raises(KeyError):
        project.next_image(12345)


def test_lowest_score_person_queue(project):
    a, b, c = project.add_images(["a.png", "b.png", "c.png"])
    kp = np.zeros((K, 3))
    low = project.add_person(b, PersonRecord(kp, score=0.1, provenance="predicted"))
    project.add_person(a, PersonRecord(kp, score=0.05, provenance="manual"))
    mid = project.add_person(c, PersonRecord(kp, score=0.3, provenance="predicted"))
    project.add_person(a, PersonRecord(kp, score=0.2, provenance="predicted"))
    assert project.lowest_score_person() == (b, low)
    project.update_person(low, provenance="accepted")
    assert project.lowest_score_person() == (a, low + 3)
    project.set_review(a, True)
    assert project.lowest_score_person() == (c, mid)
    assert project.lowest_score_person(unreviewed_only=False) == (a, low + 3)
    project.set_review(c, True)
    assert project.lowest_score_person() is None


def test_person_edits_and_replace_predictions(project):
    (image,) = project.add_images(["a.png"])
    manual = project.add_person(image, PersonRecord(_keypoints({0: (3, 4), 1: (9, 8)})))
    assert project.person(manual).bbox == (3.0, 4.0, 6.0, 4.0)
    old = project.replace_predictions(image, [PersonRecord(np.zeros((K, 3)), score=0.4)], "m1", {"size": 401})
    new = project.replace_predictions(image, [PersonRecord(np.zeros((K, 3)), mask_rle=_box_rle(1, 2, 5, 9), score=s)
                                              for s in (0.9, 0.8)], "m2", {"size": 801})
    people = project.people(image)
    assert list(people) == [manual, *new] and old[0] not in people
    assert people[new[0]].model == "m2" and people[new[0]].settings == {"size": 801}
    assert people[new[0]].bbox == (1.0, 2.0, 4.0, 7.0) and people[new[0]].mask().sum() == 28
    project.update_person(new[0], keypoints=_keypoints({3: (1, 1)}), provenance="edited")
    assert project.person(new[0]).keypoints[3, 2] == 2 and project.person(new[0]).provenance == "edited"
    project.delete_person(new[1])
    assert project.count_people() == {"predicted": 0, "accepted": 0, "edited": 1, "manual": 1}
    for bad in (lambda: project.update_person(manual, provenance="guessed"),
                lambda: project.update_person(manual, keypoints=np.zeros((16, 3)))):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(KeyError):
        project.delete_person(new[1])
    with pytest.raises(KeyError):
        project.add_person(999, PersonRecord(np.zeros((K, 3))))


def test_image_checksums_and_root_containment(project, root, tmp_path):
    (image,) = project.add_images([root / "a.png"])
    assert project.image(image).width == W and not project.image_changed(image)
    os.utime(root / "a.png", ns=(1, 1))
    assert not project.image_changed(image)
    cv2.imwrite(str(root / "a.png"), np.full((H, W, 3), 255, np.uint8))
    assert project.image_changed(image)
    _images(tmp_path, ["outside.png"])
    for path in (tmp_path / "outside.png", "../outside.png", "missing.png"):
        with pytest.raises(InputError):
            project.add_images([path])
    assert project.count_images() == 1


# ------------------------------------------------------------------ export

def test_export_format_and_reviewed_only(project, root, tmp_path):
    import_coco(project, _write(tmp_path / "good.json", _dataset()), root)
    export_coco(project, tmp_path / "all.json")
    data = json.loads((tmp_path / "all.json").read_text())
    by_id = {a["id"]: a for a in data["annotations"]}
    first, crowd, maskless, keypointless = by_id.values()
    assert first["keypoints"][:3] == [5.0, 5.0, 2] and first["keypoints"][3:6] == [0.0, 0.0, 0]
    assert first["num_keypoints"] == 3 and isinstance(first["segmentation"], list)
    assert first["bbox"] == [2.0, 2.0, 16.0, 18.0] and first["area"] == 16 * 18
    assert crowd["iscrowd"] == 1 and isinstance(crowd["segmentation"]["counts"], str)
    assert maskless["bbox"] == [5.0, 5.0, 9.0, 7.0] and maskless["area"] == 63        # its keypoints' box
    assert maskless["segmentation"] == [[5.0, 5.0, 14.0, 5.0, 14.0, 12.0, 5.0, 12.0]]
    assert keypointless["num_keypoints"] == 0 and keypointless["keypoints"] == [0.0, 0.0, 0] * K
    project.set_review(project.image_ids()[1], True)
    export_coco(project, tmp_path / "reviewed.json", reviewed_only=True, rle=True)
    reviewed = json.loads((tmp_path / "reviewed.json").read_text())
    assert [i["file_name"] for i in reviewed["images"]] == ["b.png"]
    assert isinstance(reviewed["annotations"][1]["segmentation"], dict)


def test_export_refuses_data_failing_its_self_check(project, root, tmp_path, monkeypatch):
    data = _dataset()
    del data["annotations"][2:]
    data["annotations"][0]["num_keypoints"] = 0
    data["annotations"][1]["keypoints"] = [0] * 51
    data["annotations"][1].update(num_keypoints=2, iscrowd=0)
    with pytest.raises(CocoFormatError, match="keypoints AP 0.0000") as exc:
        check_self_consistent(data, "out.json")
    assert "\n" not in str(exc.value)
    monkeypatch.setattr(project_coco, "project_to_coco", lambda *args: copy.deepcopy(data))
    with pytest.raises(CocoFormatError):
        export_coco(project, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------ 6. command line

def test_cli_import_export_info(root, tmp_path, capsys):
    plab, good = tmp_path / "cli.plab", _write(tmp_path / "good.json", _dataset())
    assert main(["project", "import", str(plab), "--coco", str(good), "--images", str(root)]) == 0
    assert "2 images, 4 people" in capsys.readouterr().out
    assert main(["project", "info", str(plab)]) == 0
    out = capsys.readouterr().out
    assert "2 (0 reviewed)" in out and "4 (0 predicted, 0 accepted, 0 edited, 4 manual)" in out
    assert main(["project", "export", str(plab), "--out", str(tmp_path / "out.json"), "--rle"]) == 0
    assert len(json.loads((tmp_path / "out.json").read_text())["annotations"]) == 4
    assert main(["project", "export", str(plab), "--out", str(tmp_path / "x.json"), "--reviewed-only"]) == 0
    assert json.loads((tmp_path / "x.json").read_text())["images"] == []


def test_cli_errors_are_one_line_and_change_nothing(root, tmp_path, capsys):
    plab = tmp_path / "new.plab"
    bad = _write(tmp_path / "bad.json", _bad(MALFORMED["missing image file"]))
    assert main(["project", "import", str(plab), "--coco", str(bad), "--images", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing.png" in err[0]
    assert not any(tmp_path.glob("new.plab*"))
    good = _write(tmp_path / "good.json", _dataset())
    assert main(["project", "import", str(plab), "--coco", str(good), "--images", str(root)]) == 0
    assert main(["project", "import", str(plab), "--coco", str(bad), "--images", str(root)]) == 2
    assert main(["project", "export", str(plab), "--out", str(tmp_path / "no" / "out.json")]) == 2
    assert main(["project", "info", str(tmp_path / "missing.plab")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error:") for line in err)
    with Project.open(plab) as project:
        assert _counts(project) == (2, 0, (0, 0, 0, 4))
