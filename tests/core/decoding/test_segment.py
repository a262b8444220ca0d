"""Instance masks: perfect-target round trips on real COCO people, basins, baselines, pose-only models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import annotation_mask
from personlab_gui.core.inference.engine import Engine, InferenceSettings, decode_fields
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.decoding.result import InferenceResult
from personlab_gui.core.decoding.segment import MASK_ASSIGNMENTS, add_masks
from personlab_gui.core.skeleton import POSE_HEADS

from perfect_maps import perfect_field_maps

ASTRONAUT = Path(__file__).resolve().parents[3] / "personlab_gui" / "data" / "astronaut.jpg"
#: Target stride -> (minimum person area, minimum mask IoU). At the network's stride 16 the
#: masks are sampled every 16 px, which alone caps IoU near 0.8 for mid-sized people; at the
#: field grid's stride 4 the round trip measures the assignment itself.
ROUND_TRIPS = {16: (10000, 0.75), 4: (1500, 0.8)}


@pytest.fixture(scope="module")
def val(shared_data):
    folder = shared_data / "coco_dev" / "val"
    gt = load_coco(folder / "person_keypoints.json")
    return [(image, [a for a in gt["annotations"] if a["image_id"] == image["id"]])
            for image in gt["images"]]


@pytest.fixture(scope="module", params=sorted(ROUND_TRIPS))
def decoded(request, val) -> tuple[int, list[tuple[list[dict], InferenceResult]]]:
    """(stride, [(annotations, result)]) for every validation image, decoded from perfect maps."""
    stride = request.param
    out = []
    for image, anns in val:
        maps = perfect_field_maps(anns, (image["height"], image["width"]), stride=stride)
        out.append((anns, decode_fields(maps, InferenceSettings(), stride)))
    return stride, out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _pose_decoded(ann: dict, result: InferenceResult) -> bool:
    """Whether some decoded person has exactly this pose: labelled keypoints within 2 px,
    the others scoring < 0.1 (a mask can only be right if its pose is)."""
    gt = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    labelled = gt[:, 2] > 0
    return any(np.abs(p.keypoints[labelled, :2] - gt[labelled, :2]).max() < 2.0
               and (p.keypoints[~labelled, 2] < 0.1).all() for p in result.people)


def _unoccluded(ann: dict, anns: list[dict], image_hw: tuple[int, int]) -> bool:
    """Whether no labelled keypoint lies on another annotation's mask. Otherwise refining
    the long-range field by itself reads the other person's offsets there (PersonLab's own
    limit, not the assignment's)."""
    gt = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    xy = np.round(gt[gt[:, 2] > 0, :2]).astype(int)
    xy = np.clip(xy, 0, [image_hw[1] - 1, image_hw[0] - 1])
    return not any(annotation_mask(o, *image_hw)[xy[:, 1], xy[:, 0]].any() for o in anns if o is not ann)


def test_perfect_targets_round_trip_masks(decoded):
    stride, results = decoded
    min_area, min_iou = ROUND_TRIPS[stride]
    ious = []
    for anns, result in results:
        for ann in anns:
            if (ann.get("iscrowd") or ann["num_keypoints"] == 0 or ann["area"] < min_area
                    or not _pose_decoded(ann, result) or not _unoccluded(ann, anns, result.image_hw)):
                continue
            gt = annotation_mask(ann, *result.image_hw)
            ious.append(max(_iou(gt, p.mask) for p in result.people))
    print(f"stride {stride}: {len(ious)} people, median mask IoU {np.median(ious):.3f}, min {min(ious):.3f}")
    assert len(ious) >= 8
    assert min(ious) >= min_iou


def test_masks_are_image_sized_and_basins_cover_every_pixel(decoded):
    _, results = decoded
    for _, result in results:
        h, w = result.image_hw
        assert result.basins.shape == result.basin_distance.shape == (h, w)
        assert result.basins.dtype == np.int32 and result.basin_distance.dtype == np.float32
        if not result.people:
            assert (result.basins == -1).all()
            continue
        assert result.basins.min() >= 0 and result.basins.max() < len(result.people)
        assert np.isfinite(result.basin_distance).all() and result.basin_distance.min() >= 0
        assert all(p.mask.shape == (h, w) and p.mask.dtype == bool for p in result.people)
        assert result.long_refined.shape == result.long_raw.shape


def test_no_people_give_empty_basins():
    result = decode_fields(perfect_field_maps([], (120, 160)), InferenceSettings())
    assert result.people == [] and (result.basins == -1).all()
    assert result.segmentation is not None and result.long_refined is not None


@pytest.mark.parametrize("assignment", ["skeleton", "bodypix"])
def test_baselines_give_each_person_pixel_to_one_person(val, assignment):
    image, anns = max(val, key=lambda item: len(item[1]))
    maps = perfect_field_maps(anns, (image["height"], image["width"]))
    result = decode_fields(maps, InferenceSettings())
    embedding = np.stack([p.mask for p in result.people])
    add_masks(result, maps.fields["segmentation"], maps.fields["long"], assignment)
    masks = np.stack([p.mask for p in result.people])
    counts = masks.sum(axis=0)
    assert len(result.people) > 3 and counts.max() == 1
    # Every person pixel is assigned, so the union covers whatever the embedding assigned.
    assert not (embedding.any(axis=0) & (counts == 0)).any()
    best = [max(_iou(annotation_mask(a, *result.image_hw), m) for m in masks)
            for a in anns if a["num_keypoints"] > 0 and a["area"] >= 10000]
    assert np.median(best) > 0.5


def test_unknown_assignment_is_rejected():
    maps = perfect_field_maps([], (64, 64))
    result = decode_fields(maps, InferenceSettings())
    with pytest.raises(ValueError, match="embedding"):
        add_masks(result, maps.fields["segmentation"], maps.fields["long"], "nearest")
    assert MASK_ASSIGNMENTS[0] == "embedding"


def test_pose_only_model_decodes_no_masks():
    engine = Engine("posenet_mnv1_075", "cpu")
    assert not {"segmentation", "long"} & set(engine.trained_heads)
    result = engine.run(load_image(ASTRONAUT))
    assert result.people and all(p.mask is None for p in result.people)
    assert result.segmentation is None and result.basins is None


def test_pose_only_fields_decode_no_masks(val):
    image, anns = max(val, key=lambda item: len(item[1]))
    maps = perfect_field_maps(anns, (image["height"], image["width"]), heads=POSE_HEADS)
    result = decode_fields(maps, InferenceSettings())
    assert result.people and all(p.mask is None for p in result.people)
