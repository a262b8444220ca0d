"""The pseudo-label policy: complete, deduplicated people above the label threshold; the
CLI's dataset output follows it while its results keep every detection."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from personlab_gui.cli import main
from personlab_gui.core.data import pseudo_labels as pl
from personlab_gui.core.project import PersonRecord, Project
from personlab_gui.core.decoding.result import Person
from personlab_gui.core.skeleton import K

EXAMPLE = Path(__file__).resolve().parents[3] / "personlab_gui" / "data" / "astronaut.jpg"
HW = (200, 300)


def _pose(x0: float, y0: float, score: float = 0.9) -> np.ndarray:
    """A standing pose: keypoints 10 px apart down a column at (x0, y0)."""
    return np.column_stack([np.full(K, x0), y0 + 10.0 * np.arange(K), np.full(K, score)])


def _mask(x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(HW, bool)
    mask[:, x0:x1] = True
    return mask


def test_keypoint_rule_needs_the_score_and_the_image():
    keypoints = _pose(50, 5)
    keypoints[0, 2], keypoints[1, 2] = 0.49, 0.5
    keypoints[2, 0] = HW[1] + 1.0          # right of the image
    keypoints[3, :2] = -0.5                # above and left of it
    labelled = pl.labelled_keypoints(keypoints, HW)
    assert labelled[:5, 2].tolist() == [0, 2, 0, 0, 2]
    assert np.array_equal(labelled[:, :2], keypoints[:, :2])


def test_oks_of_a_fragment_and_of_a_neighbour():
    person = pl.labelled_keypoints(_pose(50, 5), HW)
    fragment = person.copy()
    fragment[4:, 2] = 0                    # the same head again
    assert pl.pose_oks(person, fragment, 40 * 200) == pytest.approx(1.0)
    assert pl.pose_oks(fragment, person, 40 * 200) == pytest.approx(4 / K)
    neighbour = pl.labelled_keypoints(_pose(120, 5), HW)
    neighbour[0, :2] = person[0, :2]       # shares one keypoint only
    assert pl.pose_oks(person, neighbour, 40 * 200) == pytest.approx(1 / K, abs=0.01)
    assert pl.pose_oks(person, np.zeros((K, 3)), 40 * 200) == 0.0


def test_judge_gives_each_candidate_its_reason():
    fragment = _pose(50, 5)
    fragment[5:, 2] = 0.1
    neighbour = _pose(120, 5)
    neighbour[0, :2] = (50, 5)
    faint = _pose(200, 5, score=0.4)
    people = [
        Person(_pose(250, 5), 0.05, _mask(240, 260)),   # complete but low
        Person(_pose(50, 5), 0.6, _mask(40, 60)),       # the best: a label
        Person(fragment, 0.3, _mask(40, 60)),           # a fragment of the best
        Person(neighbour, 0.2, _mask(110, 130)),        # shares one keypoint: a label
        Person(faint, 0.5, _mask(190, 210)),            # no keypoint reaches 0.5
        Person(_pose(160, 5), 0.4, np.zeros(HW, bool)),  # empty mask
    ]
    assert pl.judge(people, HW, threshold=0.1) == [pl.LOW_SCORE, pl.LABEL, pl.DUPLICATE, pl.LABEL,
                                                   pl.NO_KEYPOINT, pl.EMPTY_MASK]
    assert pl.select_labels(people, HW, threshold=0.1) == [1, 3]
    assert pl.select_labels(people, HW, threshold=0.25) == [1]
    assert pl.select_labels(people, HW, threshold=0.0) == [0, 1, 3]
    no_masks = [Person(p.keypoints, p.score) for p in people]   # a model without masks
    assert pl.select_labels(no_masks, HW, threshold=0.1) == [1, 3, 5]
    user = pl.labelled_keypoints(_pose(52, 6), HW)              # a person labelled on the image already
    assert pl.judge(people, HW, 0.1, existing=[(user, 20 * 200)])[1:4] == [pl.DUPLICATE, pl.DUPLICATE, pl.LABEL]


def _infer(args: list[str], out: Path) -> dict | list:
    assert main(["infer", *args, "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_infer_dataset_gives_the_one_astronaut_results_keep_all(tmp_path):
    model = ["--model", "personlab_mnv1_075"]       # the figures below are this model's
    results = _infer([str(EXAMPLE), *model], tmp_path / "results.json")
    dataset = _infer([str(EXAMPLE), *model, "--format", "dataset"], tmp_path / "dataset.json")
    assert len(results) >= 3                        # COCO AP wants every detection
    (label,) = dataset["annotations"]
    assert label["score"] == max(r["score"] for r in results) >= pl.DEFAULT_LABEL_THRESHOLD
    assert label["num_keypoints"] >= 5 and label["area"] > 0
    above = _infer([str(EXAMPLE), *model, "--format", "dataset", "--label-threshold", "0.9"],
                   tmp_path / "none.json")
    assert above["annotations"] == [] and len(above["images"]) == 1


def test_infer_label_threshold_out_of_range_is_one_line(tmp_path, capsys):
    assert main(["infer", str(EXAMPLE), "--out", str(tmp_path / "x.json"), "--format", "dataset",
                 "--label-threshold", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --label-threshold 1.5: must be between 0 and 1"]
    assert not (tmp_path / "x.json").exists()


@pytest.fixture(scope="module")
def val_dataset(shared_data: Path, tmp_path_factory) -> dict:
    images = shared_data / "coco_dev" / "val" / "images"
    if not images.is_dir():
        pytest.skip(f"coco_dev/val not found at {images}")
    return _infer([str(images), "--format", "dataset"], tmp_path_factory.mktemp("val") / "dataset.json")


def test_val_labels_are_complete(val_dataset):
    anns = val_dataset["annotations"]
    assert len(val_dataset["images"]) == 14 and len(anns) >= 25   # 34 when the threshold was chosen
    for ann in anns:
        visibility = ann["keypoints"][2::3]
        assert ann["num_keypoints"] == sum(v == 2 for v in visibility) >= 1
        assert ann["segmentation"] and ann["area"] > 0 and min(ann["bbox"][2:]) > 0
        assert ann["score"] >= pl.DEFAULT_LABEL_THRESHOLD


def test_val_labels_have_no_near_duplicates(val_dataset):
    by_image = itertools.groupby(sorted(val_dataset["annotations"], key=lambda a: (a["image_id"], -a["score"])),
                                 key=lambda a: a["image_id"])
    pairs = 0
    for _, anns in by_image:
        poses = [(np.reshape(a["keypoints"], (K, 3)).astype(float), a["area"]) for a in anns]
        for (first, area), (second, _) in itertools.combinations(poses, 2):
            pairs += 1
            assert pl.pose_oks(first, second, area) < pl.DUPLICATE_OKS
    assert pairs >= 20


def test_prediction_store_is_one_idempotent_transaction(tmp_path, monkeypatch):
    """Stored predictions: a failure halfway changes nothing, a second run of the same
    model and settings changes nothing (also after reopening), user people stay."""
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(EXAMPLE.read_bytes())
    path, settings = tmp_path / "p.plab", {"size": 641, "label_threshold": 0.09}
    labelled = pl.labelled_keypoints(_pose(50, 5), HW)
    people = [PersonRecord(labelled, score=s) for s in (0.9, 0.5)]
    with Project.create(path, folder) as project:
        (image,) = project.add_images(["a.jpg"])
        user = project.add_person(image, PersonRecord(labelled, provenance="accepted"))
        old = project.replace_predictions(image, people[:1], "old", settings)
        insert, calls = Project._insert_person, []

        def crash_on_second(self, *args):
            calls.append(1)
            if len(calls) == 2:
                raise OSError("disk gone")
            return insert(self, *args)

        monkeypatch.setattr(Project, "_insert_person", crash_on_second)
        with pytest.raises(OSError):
            project.replace_predictions(image, people, "new", settings)
        monkeypatch.undo()
        assert list(project.people(image)) == [user, *old]              # all or nothing
        assert project.wants_predictions(image, "new", settings)
        new = project.replace_predictions(image, people, "new", settings)
        assert project.replace_predictions(image, people, "new", dict(reversed(settings.items()))) is None
        rows = {i: (p.provenance, p.model) for i, p in project.people(image).items()}
        assert rows == {user: ("accepted", None), new[0]: ("predicted", "new"), new[1]: ("predicted", "new")}
    with Project.open(path) as project:
        assert project.replace_predictions(image, people, "new", settings) is None
        assert {i: (p.provenance, p.model) for i, p in project.people(image).items()} == rows
        project.set_review(image, True)
        assert not project.wants_predictions(image, "newer", settings)  # never on a reviewed image
