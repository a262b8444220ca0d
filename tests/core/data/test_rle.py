"""``box_rle`` gives exactly pycocotools' RLE of the whole mask, from the box alone."""

from __future__ import annotations

import numpy as np
import pytest

from personlab_gui.core.data.boxes import clip, nonzero_box, slices
from personlab_gui.core.data.coco_read import rle_string_runs
from personlab_gui.core.data.coco_write import mask_to_rle
from personlab_gui.core.data.rle import box_rle


@pytest.mark.parametrize("seed", range(200))
def test_box_rle_matches_pycocotools(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 24, 2)
    mask = np.zeros((h, w), bool)
    if seed % 10:                                  # every tenth mask stays empty
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
        mask[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < rng.random()
    x0, y0, x1, y1 = nonzero_box(mask) or (0, 0, w, h)
    grow = rng.integers(0, 3, 4)                   # any box holding the pixels will do
    box = clip((x0 - grow[0], y0 - grow[1], x1 + grow[2], y1 + grow[3]), (h, w))
    assert box_rle(mask[slices(box)], box, (h, w)) == mask_to_rle(mask)


def test_full_columns_and_image_corners():
    mask = np.zeros((5, 4), bool)
    mask[:, 1] = mask[4, 3] = mask[0, 0] = True
    assert box_rle(mask, (0, 0, 4, 5), (5, 4)) == mask_to_rle(mask)


@pytest.mark.parametrize("seed", range(50))
def test_rle_string_runs_decodes_pycocotools_text(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 300, 2)
    mask = rng.random((h, w)) < rng.random() * (seed % 5 != 0)     # every fifth mask empty
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    assert rle_string_runs(mask_to_rle(mask)["counts"]) == ([0] + runs if flat[0] else runs)


@pytest.mark.parametrize("text", ["éé", "P", " ", "0" * 3 + "\x00", "o" * 20 + "0"])
def test_rle_string_runs_refuses_what_is_not_compressed_rle(text):
    assert rle_string_runs(text) is None
