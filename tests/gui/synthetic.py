"""Small hand-made InferenceResults for unit tests of the layers (tests only: the app
shows nothing but real engine results).

One person stands in a 200 x 160 image; every field is exact: heatmap disks around its
keypoints, short- and long-range offsets pointing at them, mid-range offsets along edges.
"""

from __future__ import annotations

import numpy as np

from personlab_gui.core.data.preprocess import make_transform
from personlab_gui.core.decoding.result import InferenceResult, Person, TraceEvent
from personlab_gui.core.skeleton import DIRECTED_EDGES, DISK_RADIUS, K

IMAGE_HW = (160, 200)
FIELD_STRIDE = 4
#: The person's keypoints in image pixels: a column of points, nose on top.
KEYPOINTS = np.column_stack([np.full(K, 100.0), np.linspace(30, 140, K), np.linspace(0.9, 0.5, K)])


def make_result(with_long: bool = False) -> InferenceResult:
    transform = make_transform(IMAGE_HW, 129)
    h, w = ((np.array(transform.input_hw) - 1) // FIELD_STRIDE + 1).tolist()
    ys, xs = np.mgrid[0:h, 0:w] * float(FIELD_STRIDE)
    cells = np.stack([xs, ys], axis=-1)                                   # (h, w, 2) input px
    targets = transform.to_input(KEYPOINTS[:, :2])                        # (K, 2) input px
    short = targets[:, None, None, :] - cells[None]                      # (K, h, w, 2)
    heatmaps = (np.linalg.norm(short, axis=-1) <= DISK_RADIUS).astype(np.float32)
    oh, ow = (np.array(transform.input_hw) - 1) // 16 + 1
    out = np.stack(np.mgrid[0:oh, 0:ow][::-1], axis=-1) * 16.0
    mid = np.stack([targets[b] - out for _, b in DIRECTED_EDGES]).astype(np.float32)
    person = Person(keypoints=KEYPOINTS.copy(), score=0.8)
    result = InferenceResult(
        image_hw=IMAGE_HW, transform=transform, field_stride=FIELD_STRIDE, heatmaps=heatmaps,
        short=short.astype(np.float32), mid=mid, hough=heatmaps * 0.5,
        candidates=[np.array([[*targets[k], 0.5]]) for k in range(K)], people=[person],
        trace_arrays=None, trained_heads=("heatmap", "short", "mid"))
    result.trace = [TraceEvent("seed", 0, 0, *targets[0], 0.5),
                    TraceEvent("edge", 1, 0, *targets[1], 0.4, 0, *targets[0]),
                    TraceEvent("nms_reject", 0, 0, *(targets[0] + 3), 0.3),
                    TraceEvent("place", 1, 0, *targets[1], 0.7)]
    if with_long:
        add_long(result, short.astype(np.float32))
    return result


def add_long(result: InferenceResult, long: np.ndarray) -> None:
    """Exact long-range offsets, a person-shaped segmentation, one basin and one mask."""
    result.trained_heads = (*result.trained_heads, "segmentation", "long")
    h, w = result.grid_hw
    seg = np.zeros((h, w), np.float32)
    (c0, r0), (c1, r1) = np.rint(result.image_to_grid(np.array([[80, 20], [120, 150]]))).astype(int)
    seg[r0:r1 + 1, c0:c1 + 1] = 1.0
    result.segmentation, result.long_raw, result.long_refined = seg, long, long
    basins = np.full(result.image_hw, -1, np.int32)
    basins[20:150, 80:120] = 0
    result.basins = basins
    result.basin_distance = np.where(basins >= 0, 0.05, np.inf).astype(np.float32)
    result.people[0].mask = basins >= 0
