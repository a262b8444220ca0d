"""PoseNet's simpler multi-person decoder, for comparison on the same network outputs.

Works on the output-stride grid: candidates are 3x3 local maxima of the heatmap (no Hough
voting), a part is placed at grid * stride + short offset; the tree is walked with the
displacement at the NEAREST grid cell (no bilinear sampling, no recurrent refinement),
then snapped twice with the short offset at the nearest cell of the target type. Keypoint
scores are heatmap probabilities (no expected OKS); instance score as PersonLab's, with
PoseNet's NMS radius.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .greedy import TREE_WALKS, instance_scores, nms_blocker
from .jit import f32, kernel

POSENET_NMS_RADIUS = 20.0
POSENET_SCORE_THRESHOLD = 0.1
SNAP_STEPS = 2


@njit(cache=True, inline="always")
def _nearest(v: float, stride: int, n: int) -> int:
    return min(max(int(round(v / stride)), 0), n - 1)


@kernel("float32[:, :, ::1], float32[:, :, :, ::1], int64, float64, float32[:, ::1]", "posenet")
def _candidates(heat, short, stride, threshold, out):
    """Write candidates (k, x, y, score) into the rows of ``out``; returns how many."""
    n_kp, h, w = heat.shape
    count = 0
    for k in range(n_kp):
        for i in range(h):
            for j in range(w):
                v = heat[k, i, j]
                if v < threshold:
                    continue
                is_max = True
                for ii in range(max(i - 1, 0), min(i + 2, h)):
                    for jj in range(max(j - 1, 0), min(j + 2, w)):
                        if heat[k, ii, jj] > v:
                            is_max = False
                if is_max:
                    out[count, 0] = k
                    out[count, 1] = j * stride + short[k, i, j, 0]
                    out[count, 2] = i * stride + short[k, i, j, 1]
                    out[count, 3] = v
                    count += 1
    return count


@kernel("float32[:, ::1], float32[:, :, ::1], float32[:, :, :, ::1], float32[:, :, :, ::1], "
        "int64[:, :, ::1], int64, float64, float32[:, :, ::1]", "posenet")
def _walk(cands, heat, short, mid, walks, stride, nms_radius, people):
    """Fill ``people`` (max people, K, 3); returns how many were found."""
    n_kp, h, w = heat.shape
    max_people = people.shape[0]
    n_people = 0
    r2 = nms_radius * nms_radius
    for c in range(cands.shape[0]):
        if n_people >= max_people:
            break
        k, x, y = int(cands[c, 0]), cands[c, 1], cands[c, 2]
        if nms_blocker(people, n_people, k, x, y, r2) >= 0:
            continue
        person = people[n_people]
        person[k, 0], person[k, 1], person[k, 2] = x, y, cands[c, 3]
        for a, b, e in walks[k]:
            i, j = _nearest(person[a, 1], stride, h), _nearest(person[a, 0], stride, w)
            bx, by = person[a, 0] + mid[e, i, j, 0], person[a, 1] + mid[e, i, j, 1]
            for _ in range(SNAP_STEPS):
                i, j = _nearest(by, stride, h), _nearest(bx, stride, w)
                bx, by = j * stride + short[b, i, j, 0], i * stride + short[b, i, j, 1]
            i, j = _nearest(by, stride, h), _nearest(bx, stride, w)
            person[b, 0], person[b, 1], person[b, 2] = bx, by, heat[b, i, j]
        n_people += 1
    return n_people


def posenet_decode(heat: np.ndarray, short: np.ndarray, mid_raw: np.ndarray, field_stride: int,
                   output_stride: int = 16, nms_radius: float = POSENET_NMS_RADIUS,
                   threshold: float = POSENET_SCORE_THRESHOLD, max_people: int = 100
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode on the output-stride cells of the field grid (``mid_raw`` is on the output grid).

    Returns candidates (n, 4), keypoints (m, K, 3) in input px, instance scores (m,).
    """
    step = output_stride // field_stride
    heat16, short16 = f32(heat[:, ::step, ::step]), f32(short[:, ::step, ::step])
    out = np.empty((heat16.size, 4), dtype=np.float32)
    cands = out[:_candidates(heat16, short16, int(output_stride), float(threshold), out)]
    cands = cands[np.argsort(-cands[:, 3], kind="stable")]
    people = np.zeros((max_people, heat16.shape[0], 3), dtype=np.float32)
    people = people[:_walk(cands, heat16, short16, f32(mid_raw), TREE_WALKS, int(output_stride),
                           float(nms_radius), people)].copy()
    return cands, people, instance_scores(people, nms_radius)
