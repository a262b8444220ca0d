"""Targets: disks, offsets, masks and ignore regions on synthetic and real COCO people."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from personlab_gui.core.data.preprocess import make_transform
from personlab_gui.core.skeleton import DIRECTED_EDGES, DISK_RADIUS, K
from personlab_gui.core.data.targets import annotations_to_input, build_targets, grid_shape

STRIDE = 16
INPUT_HW = (401, 401)


def _grid_xy() -> np.ndarray:
    h, w = grid_shape(INPUT_HW, STRIDE)
    xs, ys = np.meshgrid(np.arange(w) * STRIDE, np.arange(h) * STRIDE)
    return np.stack([xs, ys], axis=-1).astype(np.float32)


def _vectors(field: np.ndarray, c: int) -> np.ndarray:
    """Channel pair c of a (2C, h, w) field -> (h, w, 2)."""
    return np.stack([field[2 * c], field[2 * c + 1]], axis=-1)


@pytest.fixture
def one_person():
    kp = np.zeros((1, K, 3), dtype=np.float32)
    kp[0, 0] = (200.3, 100.7, 2)   # nose
    kp[0, 5] = (150.0, 180.0, 1)   # left shoulder
    kp[0, 6] = (250.0, 180.0, 2)   # right shoulder
    masks = np.zeros((1, *INPUT_HW), dtype=bool)
    masks[0, 80:300, 120:280] = True
    crowd = np.zeros(INPUT_HW, dtype=bool)
    crowd[0:64, 0:64] = True
    return kp, masks, crowd


def test_heatmap_and_short_offsets(one_person):
    kp, masks, crowd = one_person
    t = build_targets(kp, masks, crowd, INPUT_HW, STRIDE)
    grid = _grid_xy()
    inside = ((grid - kp[0, 0, :2]) ** 2).sum(-1) <= DISK_RADIUS ** 2
    assert inside.sum() == pytest.approx(np.pi * DISK_RADIUS ** 2 / STRIDE ** 2, rel=0.35)
    np.testing.assert_array_equal(t["heatmap"][0] > 0, inside)
    np.testing.assert_array_equal(t["short_weight"][0], t["heatmap"][0])
    landing = grid + _vectors(t["short"], 0)
    np.testing.assert_allclose(landing[inside], np.broadcast_to(kp[0, 0, :2], landing[inside].shape),
                               atol=1e-4)
    assert not _vectors(t["short"], 0)[~inside].any()
    assert t["heatmap"][1].sum() == 0   # unlabelled keypoint type: no disk


def test_mid_vectors_point_to_the_other_keypoint(one_person):
    kp, masks, crowd = one_person
    t = build_targets(kp, masks, crowd, INPUT_HW, STRIDE)
    grid = _grid_xy()
    for c, (k, l) in enumerate(DIRECTED_EDGES):
        weight = t["mid_weight"][c] > 0
        if kp[0, k, 2] > 0 and kp[0, l, 2] > 0:
            np.testing.assert_array_equal(weight, t["heatmap"][k] > 0)
            landing = (grid + _vectors(t["mid"], c))[weight]
            np.testing.assert_allclose(landing, np.broadcast_to(kp[0, l, :2], landing.shape), atol=1e-4)
        else:
            assert not weight.any() and not t["mid"][2 * c:2 * c + 2].any()


def test_long_offsets_only_inside_the_mask(one_person):
    kp, masks, crowd = one_person
    t = build_targets(kp, masks, crowd, INPUT_HW, STRIDE)
    cells = masks[0, ::STRIDE, ::STRIDE]
    np.testing.assert_array_equal(t["segmentation"] > 0, cells)
    for k in range(K):
        expected = cells if kp[0, k, 2] > 0 else np.zeros_like(cells)
        np.testing.assert_array_equal(t["long_weight"][k] > 0, expected)
        assert not _vectors(t["long"], k)[~expected].any()
    landing = (_grid_xy() + _vectors(t["long"], 6))[cells]
    np.testing.assert_allclose(landing, np.broadcast_to(kp[0, 6, :2], landing.shape), atol=1e-4)


def test_crowd_and_unannotated_people_are_ignored(one_person):
    kp, masks, crowd = one_person
    other = np.zeros((1, *INPUT_HW), dtype=bool)
    other[320:400, 300:400] = True
    t = build_targets(kp, masks, crowd, INPUT_HW, STRIDE, unannotated_masks=other)
    crowd_cells, other_cells = crowd[::STRIDE, ::STRIDE], other[0, ::STRIDE, ::STRIDE]
    np.testing.assert_array_equal(t["segmentation_ignore"] > 0, crowd_cells)
    np.testing.assert_array_equal(t["keypoint_ignore"] > 0, crowd_cells | other_cells)
    assert t["segmentation"][other_cells].all()
    assert not t["long_weight"][:, other_cells].any()


def test_overlapping_disks_take_the_nearest_person():
    kp = np.zeros((2, K, 3), dtype=np.float32)
    kp[:, 0] = [(100, 100, 2), (140, 100, 2)]
    t = build_targets(kp, np.zeros((2, *INPUT_HW), bool), np.zeros(INPUT_HW, bool), INPUT_HW)
    grid = _grid_xy()
    landing = grid + _vectors(t["short"], 0)
    nearer = np.where(np.abs(grid[..., 0] - 100) < np.abs(grid[..., 0] - 140), 100.0, 140.0)
    inside = t["heatmap"][0] > 0
    np.testing.assert_allclose(landing[..., 0][inside], nearer[inside])


def test_no_people_gives_empty_targets():
    t = build_targets(np.zeros((0, K, 3)), np.zeros((0, *INPUT_HW), bool),
                      np.zeros(INPUT_HW, bool), INPUT_HW)
    assert t["heatmap"].shape == (K, 26, 26) and t["mid"].shape == (64, 26, 26)
    assert all(not v.any() for v in t.values())


def _coco_dev(request) -> Path:
    try:
        root = Path(request.getfixturevalue("shared_data"))
    except pytest.FixtureLookupError:
        root = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    path = root / "coco_dev" / "train"
    if not (path / "person_keypoints.json").is_file():
        pytest.skip(f"COCO dev data not found at {path}")
    return path


def test_real_image_has_heatmap_cells_for_every_labelled_type(request):
    pytest.importorskip("personlab_gui.core.data.coco_read")
    root = _coco_dev(request)
    gt = json.loads((root / "person_keypoints.json").read_text())
    image = gt["images"][0]
    anns = [a for a in gt["annotations"] if a["image_id"] == image["id"]]
    hw = (image["height"], image["width"])
    transform = make_transform(hw, 401)
    a = annotations_to_input(anns, transform, hw)
    assert a.masks.shape == (len(a.keypoints), *transform.input_hw)
    t = build_targets(a.keypoints, a.masks, a.crowd, transform.input_hw,
                      unannotated_masks=a.unannotated)
    labelled = (a.keypoints[:, :, 2] > 0).any(axis=0)
    assert labelled.any()
    assert ((t["heatmap"].sum(axis=(1, 2)) > 0) == labelled).all()
    assert t["segmentation"].sum() > 0
