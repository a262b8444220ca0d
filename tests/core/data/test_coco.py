"""COCO reading/validation on real and broken files, mask round trips, writing, evaluation."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from personlab_gui.core.data.coco_eval import METRIC_KEYS, evaluate
from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import annotation_mask, detections_to_dataset, detections_to_results, mask_to_polygons, mask_to_rle, write_json_atomic
from personlab_gui.core.errors import CocoFormatError
from personlab_gui.core.decoding.result import Person


@pytest.fixture(scope="module")
def train_path(shared_data) -> Path:
    path = shared_data / "coco_dev" / "train" / "person_keypoints.json"
    if not path.is_file():
        pytest.skip(f"missing {path}")
    return path


@pytest.fixture(scope="module")
def train(train_path) -> dict:
    return load_coco(train_path)


def _small(train: dict, n_images: int = 3) -> dict:
    """The first images of the train set with their annotations (a deep copy)."""
    data = copy.deepcopy(train)
    data["images"] = data["images"][:n_images]
    ids = {image["id"] for image in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    return data


def _sizes(data: dict) -> dict[int, tuple[int, int]]:
    return {image["id"]: (image["height"], image["width"]) for image in data["images"]}


def _gt_people(data: dict, image_id: int, with_keypoints: bool) -> list[Person]:
    """The image's non-crowd ground truth as decoded people (keypoint score 1 where labelled)."""
    h, w = _sizes(data)[image_id]
    people = []
    for ann in data["annotations"]:
        if ann["image_id"] != image_id or ann["iscrowd"] or (with_keypoints and not ann["num_keypoints"]):
            continue
        keypoints = np.array(ann["keypoints"], float).reshape(-1, 3)
        keypoints[:, 2] = keypoints[:, 2] > 0
        people.append(Person(keypoints, 1.0, annotation_mask(ann, h, w)))
    return people


def _results(data: dict, with_keypoints: bool) -> list[dict]:
    return [r for image_id in _sizes(data) for r in detections_to_results(
        image_id, _gt_people(data, image_id, with_keypoints))]


def test_real_files_load(shared_data, train):
    assert len(train["images"]) == 41 and len(train["annotations"]) == 179
    for relative in ("coco_dev/val/person_keypoints.json", "ochuman_test/test_ochuman.json",
                     "coco128_person_masks/person_masks.json"):
        if (shared_data / relative).is_file():
            assert load_coco(shared_data / relative)["annotations"]


def test_masks_round_trip_through_rle_and_polygons(train):
    sizes = _sizes(train)
    kinds = set()
    for ann in train["annotations"]:
        h, w = sizes[ann["image_id"]]
        mask = annotation_mask(ann, h, w)
        reference = mask_utils.decode(_gt_rle(ann, h, w)).astype(bool)
        assert np.array_equal(mask, reference)
        rle = mask_to_rle(mask)
        assert isinstance(json.loads(json.dumps(rle))["counts"], str)
        assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)
        polygons = mask_to_polygons(mask)
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in polygons)
        back = mask_utils.merge(mask_utils.frPyObjects(polygons, h, w))
        assert mask_utils.iou([back], [mask_to_rle(mask)], [0])[0, 0] >= 0.99
        kinds.add(type(ann["segmentation"]).__name__)
    assert kinds == {"list", "dict"}  # polygons and crowd RLE both exercised


def _gt_rle(ann: dict, h: int, w: int) -> dict:
    seg = ann["segmentation"]
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    return mask_utils.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg


def test_polygons_keep_holes_and_drop_nothing_on_empty_masks():
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[10:15, 10:20] = False
    ring[12, 14] = True  # an island inside the hole
    polygons = mask_to_polygons(ring)
    back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, 30, 30))).astype(bool)
    assert np.array_equal(back, ring)
    assert mask_to_polygons(np.zeros((8, 8), bool)) == []


def test_compressed_and_uncompressed_rle_accepted(tmp_path, train):
    data = _small(train)
    h, w = _sizes(data)[data["annotations"][0]["image_id"]]
    mask = annotation_mask(data["annotations"][0], h, w)
    flat = mask.flatten(order="F").astype(np.int8)  # uncompressed RLE: column-major runs, zeros first
    runs = np.diff(np.r_[0, np.flatnonzero(np.diff(flat)) + 1, flat.size]).tolist()
    data["annotations"][0]["segmentation"] = {"size": [h, w], "counts": [0] * int(flat[0]) + runs}
    data["annotations"][1]["segmentation"] = mask_to_rle(mask)
    path = tmp_path / "rle.json"
    write_json_atomic(path, data)
    loaded = load_coco(path)
    for ann in loaded["annotations"][:2]:
        assert np.array_equal(annotation_mask(ann, h, w), mask)


def _set(path: str, value):
    """A mutation setting ``data[a][i][b] = value`` for path "a.i.b"; value None deletes."""
    def mutate(data):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = data
        for key in parents:
            target = target[key]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return mutate


def _duplicate(kind: str):
    def mutate(data):
        data[kind][1]["id"] = data[kind][0]["id"]
    return mutate


MALFORMED = [
    ("missing top-level key 'annotations'", _set("annotations", None), False),
    ("missing field 'bbox'", _set("annotations.0.bbox", None), True),
    ("keypoints must be 51 finite numbers", _set("annotations.0.keypoints", [0] * 50), True),
    ("keypoint visibility must be 0, 1 or 2, got 3", _set("annotations.0.keypoints.2", 3), True),
    ("image id used twice (image id", _duplicate("images"), False),
    ("annotation id used twice", _duplicate("annotations"), True),
    ("unknown image id 999999999", _set("annotations.0.image_id", 999999999), True),
    ("polygon with 4 coordinates", _set("annotations.0.segmentation", [[1, 2, 3, 4]]), True),
    ("polygon with 7 coordinates", _set("annotations.0.segmentation", [[1, 2, 3, 4, 5, 6, 7]]), True),
    ("RLE segmentation missing 'counts'", _set("annotations.0.segmentation", {"size": [1, 1]}), True),
    ("RLE segmentation missing 'size'", _set("annotations.0.segmentation", {"counts": "abc"}), True),
]


@pytest.mark.parametrize("problem, mutate, names_annotation", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_raise_one_line_errors(tmp_path, train, problem, mutate, names_annotation):
    data = _small(train)
    mutate(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CocoFormatError) as info:
        load_coco(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
    if names_annotation:
        assert message.endswith(f"(annotation id {data['annotations'][0]['id']})")


@pytest.mark.parametrize("text, problem", [
    ('{"images": [', "invalid JSON"), ("[1, 2]", "top level is not a JSON object"), ("", "empty file")])
def test_unparsable_files(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CocoFormatError, match=problem):
        load_coco(path)
    with pytest.raises(CocoFormatError, match="file not found"):
        load_coco(tmp_path / "absent.json")


def test_ground_truth_scores_perfectly_against_itself(train_path, train):
    keypoint_results = _results(train, with_keypoints=True)
    scores = evaluate(train_path, keypoint_results)
    assert set(scores) == {"keypoints"} and set(scores["keypoints"]) == set(METRIC_KEYS)
    assert scores["keypoints"]["AP"] == pytest.approx(1.0)
    segm = evaluate(train, _results(train, with_keypoints=False), iou_types=("segm",))["segm"]
    assert segm["AP"] == pytest.approx(1.0) and segm["AP50"] == pytest.approx(1.0)
    subset = [train["images"][0]["id"]]
    assert evaluate(train, keypoint_results, image_ids=subset)["keypoints"]["AP"] == pytest.approx(1.0)


def test_empty_results_score_zero(train):
    assert evaluate(train, [], iou_types=("keypoints", "segm")) == {
        "keypoints": dict.fromkeys(METRIC_KEYS, 0.0), "segm": dict.fromkeys(METRIC_KEYS, 0.0)}


def test_results_records():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    keypoints = np.column_stack([np.arange(17.0), np.arange(17.0) * 0.5, np.linspace(0, 1, 17)])
    records = detections_to_results(7, [Person(keypoints, np.float32(0.8), mask), Person(keypoints, 0.3)])
    json.dumps(records)
    first, second = records
    assert first["image_id"] == 7 and first["category_id"] == 1 and first["score"] == pytest.approx(0.8)
    assert first["keypoints"][:6] == [0.0, 0.0, 0.0, 1.0, 0.5, 0.0625]
    assert first["bbox"] == [3.0, 2.0, 6.0, 3.0] and mask_utils.area(first["segmentation"]) == 18
    assert "segmentation" not in second and "bbox" not in second


def test_pseudo_label_dataset_is_valid_coco(tmp_path, train):
    data = _small(train)
    people = [_gt_people(data, image["id"], with_keypoints=True) for image in data["images"]]
    for person in people[0]:
        person.keypoints[:, 2] = np.where(person.keypoints[:, 2] > 0, 0.9, 0.2)
    people[0].append(Person(np.tile([5.0, 6.0, 0.9], (17, 1)), 0.4))  # no mask
    pseudo = detections_to_dataset(data["images"], people)
    path = tmp_path / "pseudo.json"
    write_json_atomic(path, pseudo)
    assert list(tmp_path.iterdir()) == [path]
    loaded = load_coco(path)
    anns = loaded["annotations"]
    assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
    labelled = [a for a in data["annotations"]
                if a["image_id"] == data["images"][0]["id"] and not a["iscrowd"] and a["num_keypoints"]]
    for gt, ann in zip(labelled, anns):
        assert ann["num_keypoints"] == gt["num_keypoints"]
        assert set(ann["keypoints"][2::3]) <= {0, 2}
        assert mask_utils.iou([_gt_rle(ann, *_sizes(data)[ann["image_id"]])],
                              [_gt_rle(gt, *_sizes(data)[gt["image_id"]])], [0])[0, 0] >= 0.99
    no_mask = anns[len(labelled)]
    assert "segmentation" not in no_mask and no_mask["bbox"] == [5.0, 6.0, 0.0, 0.0]
    assert evaluate(path, _results(loaded, with_keypoints=False), ("segm",))["segm"]["AP"] == pytest.approx(1.0)


def test_write_json_atomic_replaces_and_converts_numpy(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    write_json_atomic(path, {"a": np.int64(3), "b": np.arange(2, dtype=np.float32)})
    assert json.loads(path.read_text()) == {"a": 3, "b": [0.0, 1.0]}
    assert list(tmp_path.iterdir()) == [path]
