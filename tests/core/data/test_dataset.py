"""COCO person dataset: shapes, reproducible augmentation, flips that swap left and right."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from personlab_gui.core.data.dataset import Augment, CocoPersonDataset
from personlab_gui.core.errors import InputError
from personlab_gui.core.skeleton import FLIP_PERMUTATION, K

SIZE = 257
STILL = dict(scale=(1.2, 1.2), brightness=0.0, contrast=0.0, saturation=0.0)


def _dataset(root: Path, **kwargs) -> CocoPersonDataset:
    return CocoPersonDataset(root / "person_keypoints.json", root / "images", **{"input_size": SIZE, **kwargs})


def test_sample_shapes_and_range(coco_dev_train):
    image, targets = _dataset(coco_dev_train)[0]
    assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32
    assert -1.0 <= image.min() and image.max() <= 1.0
    assert targets["heatmap"].shape == (K, 17, 17) and targets["mid"].shape == (64, 17, 17)


def test_augmentation_is_a_function_of_seed_epoch_and_index(coco_dev_train):
    a, b = _dataset(coco_dev_train, seed=5), _dataset(coco_dev_train, seed=5)
    assert torch.equal(a[3][0], b[3][0])
    b.set_epoch(1)
    assert not torch.equal(a[3][0], b[3][0])


def test_flip_mirrors_targets_and_swaps_left_right(coco_dev_train):
    plain = _dataset(coco_dev_train, augment=Augment(flip=0.0, **STILL))[0]
    flipped = _dataset(coco_dev_train, augment=Augment(flip=1.0, **STILL))[0]
    assert torch.equal(flipped[0], plain[0].flip(-1))
    mirrored = plain[1]["heatmap"][FLIP_PERMUTATION].flip(-1)
    assert torch.equal(flipped[1]["heatmap"], mirrored)
    dx = plain[1]["short"][0::2][FLIP_PERMUTATION].flip(-1)
    torch.testing.assert_close(flipped[1]["short"][0::2], -dx + 0.0)
    assert torch.equal(flipped[1]["segmentation"], plain[1]["segmentation"].flip(-1))


def test_bad_size_and_missing_images_are_refused(coco_dev_train, tmp_path):
    with pytest.raises(ValueError, match="16n"):
        _dataset(coco_dev_train, input_size=256)
    with pytest.raises(InputError, match="not found"):
        CocoPersonDataset(coco_dev_train / "person_keypoints.json", tmp_path)


def test_masks_only_people_train_segmentation_but_no_keypoint_or_long_loss(shared_data):
    root = shared_data / "coco128_person_masks"
    if not (root / "person_masks.json").is_file():
        pytest.skip(f"masks-only data not found at {root}")
    data = CocoPersonDataset(root / "person_masks.json", root / "images", input_size=SIZE, train=False)
    _, targets = data[0]
    person = targets["segmentation"] > 0
    assert person.any()                                          # segmentation is trained there
    assert torch.equal(targets["keypoint_ignore"] > 0, person)   # keypoint losses ignore them
    assert not targets["segmentation_ignore"].any()
    assert not targets["long_weight"].any() and not targets["heatmap"].any()
