"""Person instance masks from the segmentation and long-range heads (PersonLab steps 5-7).

The long-range field is refined (``refine.refine_long``); every field-grid cell x then has
the geometric embedding G_k(x) = x + L_k(x), and its distance to detected person j is

    D_j(x) = sum_k p_k(y_jk) |G_k(x) - y_jk| / (lambda_j sum_k p_k(y_jk))

in network-input pixels, with p_k the person's keypoint scores and lambda_j the square
root of the area of the box around its keypoints. Distances are computed on the field grid
and sampled bilinearly at every original image pixel (the exact image -> grid coordinate
map of ``result.transform``, so padding never leaks in), together with the segmentation
probability; a pixel with p_S >= ``SEGMENTATION_THRESHOLD`` joins every person with
D_j <= ``MASK_THRESHOLD``.

Callers choose the assignment rule with one of ``MASK_ASSIGNMENTS``:

* ``"embedding"``: PersonLab's rule above (a pixel may join several people);
* ``"skeleton"``: baseline, each person pixel goes to the person whose decoded skeleton
  (tree edges between keypoints scoring > ``SKELETON_MIN_SCORE``) is nearest in image px;
* ``"bodypix"``: baseline, each person pixel goes to the person minimising the mean of
  |G_k(x) - y_jk| over the five face keypoints.

Whatever the rule, ``result.basins`` and ``result.basin_distance`` give, for every image
pixel, the person nearest in embedding space and that distance D.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
from numba import njit

from .jit import MASKS, f32, kernel
from ..data.preprocess import InputTransform
from .refine import LONG_SELF_REFINE_STEPS, refine_long
from .result import InferenceResult
from ..skeleton import K, MASK_THRESHOLD, SEGMENTATION_THRESHOLD, TREE_EDGES

MASK_ASSIGNMENTS = ("embedding", "skeleton", "bodypix")
FACE_KEYPOINTS = np.arange(5)      # nose, eyes, ears
SKELETON_MIN_SCORE = 0.05
_FAR = np.float32(1e30)            # distance of a person that cannot claim any pixel


def _refine_cells(segmentation: np.ndarray) -> np.ndarray:
    """Where the long-range field is refined: person cells (p_S >= 0.5) and their 8
    neighbours (image pixels interpolate between cells). Elsewhere the long-range head had no
    training signal, so its raw field is kept (the basins there are only indicative)."""
    person = (segmentation >= SEGMENTATION_THRESHOLD).astype(np.uint8)
    return cv2.dilate(person, np.ones((3, 3), np.uint8)).astype(bool)


def add_masks(result: InferenceResult, segmentation: np.ndarray, long: np.ndarray,
              assignment: str = "embedding", long_self_steps: int = LONG_SELF_REFINE_STEPS) -> None:
    """Fill the segmentation maps, basins and every person's image-resolution ``mask``.

    ``segmentation`` (h, w) probabilities and ``long`` (K, h, w, 2) raw offsets, both on
    the field grid; ``assignment`` is one of ``MASK_ASSIGNMENTS``; ``long_self_steps``: the
    long-range field's self-refinement steps (``refine.refine_long``).
    """
    if assignment not in MASK_ASSIGNMENTS:
        raise ValueError(f"unknown mask assignment {assignment!r}; "
                         f"choose from {', '.join(MASK_ASSIGNMENTS)}")
    refined = refine_long(long, result.short, result.field_stride, _refine_cells(segmentation),
                          long_self_steps)
    result.segmentation, result.long_raw, result.long_refined = segmentation, long, refined
    if not result.people:
        result.basins = np.full(result.image_hw, -1, dtype=np.int32)
        result.basin_distance = np.full(result.image_hw, np.inf, dtype=np.float32)
        return
    taps = _taps(result.transform, result.field_stride, segmentation.shape)
    gx, gy = _embedding(refined, result.field_stride, *taps.extent)
    keypoints = np.stack([p.keypoints for p in result.people])            # (N, K, 3) image px
    targets = np.ascontiguousarray(result.transform.to_input(keypoints[..., :2]), dtype=np.float32)
    distance = _distances(gx, gy, targets, _embedding_weights(targets, keypoints[..., 2]))
    result.basins, result.basin_distance, person = _pixel_maps(distance, segmentation, taps)
    if assignment == "embedding":
        boxes = _pixel_boxes(distance, taps.rows, taps.cols)
        masks = _threshold_masks(person, distance, boxes, MASK_THRESHOLD, *taps)
    elif assignment == "bodypix":
        masks = _nearest_masks(person, _distances(gx, gy, targets, _face_weights(len(targets))), *taps)
    else:
        cells = _near_person_cells(segmentation, taps.extent)
        cost = _skeleton_distances(keypoints, result.transform, result.field_stride, cells)
        masks = _nearest_masks(person, cost, *taps)
    for p, mask in zip(result.people, masks):
        p.mask = mask


class _Taps(NamedTuple):
    """Bilinear taps of every image row and column on the field grid."""

    rows: np.ndarray   # (H,) top grid row
    fy: np.ndarray     # (H,) weight of the row below
    cols: np.ndarray   # (W,) left grid column
    fx: np.ndarray     # (W,) weight of the column on the right

    @property
    def extent(self) -> tuple[int, int]:
        """(h, w): the top-left grid cells any tap reads."""
        return int(self.rows.max()) + 2, int(self.cols.max()) + 2


def _taps(transform: InputTransform, field_stride: int, grid_hw: tuple[int, int]) -> _Taps:
    """Image pixel -> network-input pixel (``transform``) -> field-grid position, clamped."""
    def axis(n: int, scale: float, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
        u = np.clip(((np.arange(n) + 0.5) * scale - 0.5) / field_stride, 0.0, n_grid - 1.0)
        left = np.minimum(u.astype(np.int64), n_grid - 2)
        return left, (u - left).astype(np.float32)

    (h, w), (sx, sy) = transform.image_hw, transform.scale_xy
    return _Taps(*axis(h, sy, grid_hw[0]), *axis(w, sx, grid_hw[1]))


def _embedding(long: np.ndarray, field_stride: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """G_k(x) = x + L_k(x) on the top-left h x w cells: x and y planes (K, h, w) float32."""
    cells = long[:, :h, :w]
    gx = (np.arange(w) * field_stride)[None, None, :] + cells[..., 0].astype(np.float64)
    gy = (np.arange(h) * field_stride)[None, :, None] + cells[..., 1].astype(np.float64)
    return f32(gx), f32(gy)


def _embedding_weights(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N, K) weights p_k / (lambda_j sum_k p_k); all zero for a person without any score."""
    span = targets.max(axis=1) - targets.min(axis=1)                      # (N, 2)
    lam = np.sqrt(np.maximum(span[:, 0] * span[:, 1], 1.0))
    total = scores.sum(axis=1)
    return (scores / np.where(total > 0, lam * total, np.inf)[:, None]).astype(np.float32)


def _face_weights(n: int) -> np.ndarray:
    """(N, K) weights of the mean over the face keypoints."""
    weights = np.zeros((n, K), dtype=np.float32)
    weights[:, FACE_KEYPOINTS] = 1.0 / len(FACE_KEYPOINTS)
    return weights


def _distances(gx: np.ndarray, gy: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, h, w) sum_k weights[j, k] |G_k(x) - targets[j, k]|; ``_FAR`` for a person whose
    weights are all zero."""
    distance = np.zeros((len(weights), *gx.shape[1:]), dtype=np.float32)
    _weighted_distances(gx, gy, f32(targets), f32(weights), distance)
    distance[~weights.any(axis=1)] = _FAR
    return distance


@kernel("float32[:, :, ::1], float32[:, :, ::1], float32[:, :, ::1], float32[:, ::1], "
        "float32[:, :, ::1]", MASKS, fastmath=True)
def _weighted_distances(gx, gy, targets, weights, out):
    """Add to ``out`` (N, h, w) sum_k weights[j, k] |(gx, gy)[k] - targets[j, k]|."""
    n, n_kp = weights.shape
    h, w = gx.shape[1], gx.shape[2]
    for k in range(n_kp):
        for p in range(n):
            wt = weights[p, k]
            if wt == 0.0:
                continue
            tx, ty = targets[p, k, 0], targets[p, k, 1]
            for i in range(h):
                for j in range(w):
                    dx, dy = gx[k, i, j] - tx, gy[k, i, j] - ty
                    out[p, i, j] += wt * math.sqrt(dx * dx + dy * dy)


def _pixel_boxes(distance: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(N, 4) image-pixel ranges [y0, y1, x0, x1) of the pixels whose bilinear taps read a
    cell with D <= MASK_THRESHOLD (only those can join the person); empty when none."""
    boxes = np.zeros((len(distance), 4), dtype=np.int64)
    for box, near in zip(boxes, distance <= MASK_THRESHOLD):
        r, c = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
        if len(r):
            box[:] = (np.searchsorted(rows + 1, r[0]), np.searchsorted(rows, r[-1], side="right"),
                      np.searchsorted(cols + 1, c[0]), np.searchsorted(cols, c[-1], side="right"))
    return boxes


def _near_person_cells(segmentation: np.ndarray, extent: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the cells a person pixel's bilinear taps can read (3 x 3 dilation of
    the cells with p_S >= 0.5)."""
    cells = (segmentation[:extent[0], :extent[1]] >= SEGMENTATION_THRESHOLD).astype(np.uint8)
    return cv2.dilate(cells, np.ones((3, 3), np.uint8)).astype(bool)


def _skeleton_distances(keypoints: np.ndarray, transform: InputTransform, field_stride: int,
                        cells: np.ndarray) -> np.ndarray:
    """(N, h, w) image-px distance from each grid cell in ``cells`` to each person's
    decoded skeleton (a huge distance elsewhere, or for a person without one)."""
    h, w = cells.shape
    grid = np.stack([np.arange(max(h, w)) * field_stride] * 2, axis=-1)
    image = transform.to_image(grid).astype(np.float32)
    best = np.full((len(keypoints), h, w), _FAR, dtype=np.float32)
    _segment_distances(_skeleton_segments(keypoints), f32(image[:w, 0]), f32(image[:h, 1]),
                       np.ascontiguousarray(cells), best)
    return np.sqrt(best)


def _skeleton_segments(keypoints: np.ndarray) -> np.ndarray:
    """(N, E + K, 4) float32 segments (ax, ay, bx, by): tree edges then single keypoints
    (zero length); NaN where a keypoint scores <= SKELETON_MIN_SCORE."""
    xy = np.where(keypoints[..., 2:] > SKELETON_MIN_SCORE, keypoints[..., :2], np.nan)
    edges = np.concatenate([xy[:, TREE_EDGES[:, 0]], xy[:, TREE_EDGES[:, 1]]], axis=-1)
    return np.concatenate([edges, np.concatenate([xy, xy], axis=-1)], axis=1).astype(np.float32)


@kernel("float32[:, :, ::1], float32[::1], float32[::1], boolean[:, ::1], float32[:, :, ::1]", "skeleton")
def _segment_distances(segments, grid_x, grid_y, cells, best):
    """Lower ``best`` (N, h, w) to the squared distance from grid point (grid_x[j], grid_y[i])
    to person N's nearest non-NaN segment, on ``cells`` only."""
    n, n_seg = segments.shape[0], segments.shape[1]
    h, w = cells.shape
    for p in range(n):
        for s in range(n_seg):
            ax, ay, bx, by = segments[p, s, 0], segments[p, s, 1], segments[p, s, 2], segments[p, s, 3]
            if math.isnan(ax) or math.isnan(bx):
                continue
            ex, ey = bx - ax, by - ay
            len2 = max(ex * ex + ey * ey, np.float32(1e-12))
            for i in range(h):
                py = grid_y[i] - ay
                for j in range(w):
                    if not cells[i, j]:
                        continue
                    px = grid_x[j] - ax
                    f = min(max((px * ex + py * ey) / len2, np.float32(0.0)), np.float32(1.0))
                    dx, dy = px - f * ex, py - f * ey
                    best[p, i, j] = min(best[p, i, j], dx * dx + dy * dy)


@njit(cache=True, inline="always")
def _lerp(plane, i, j, fy, fx):
    """Bilinear value of a 2-D map between cells (i, j) and (i + 1, j + 1)."""
    top = plane[i, j] + (plane[i, j + 1] - plane[i, j]) * fx
    bottom = plane[i + 1, j] + (plane[i + 1, j + 1] - plane[i + 1, j]) * fx
    return top + (bottom - top) * fy


def _pixel_maps(distance: np.ndarray, segmentation: np.ndarray, taps: _Taps
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At every image pixel: the person nearest in embedding space (int32 basins), the
    bilinear distance D to them (float32) and whether bilinear p_S >= SEGMENTATION_THRESHOLD."""
    shape = len(taps.rows), len(taps.cols)
    basins, dist = np.empty(shape, dtype=np.int32), np.empty(shape, dtype=np.float32)
    person = np.empty(shape, dtype=np.bool_)
    _pixel_kernel(distance.argmin(axis=0).astype(np.int32), distance.min(axis=0), f32(segmentation),
                  *taps, basins, dist, person)
    return basins, dist, person


@kernel("int32[:, ::1], float32[:, ::1], float32[:, ::1], int64[::1], float32[::1], int64[::1], "
        "float32[::1], int32[:, ::1], float32[:, ::1], boolean[:, ::1]", MASKS)
def _pixel_kernel(owner, distance, seg, rows, fy, cols, fx, basins, dist, person):
    """Fill ``basins`` (nearest cell's ``owner``), ``dist`` and ``person`` (see ``_pixel_maps``)."""
    h, w = rows.shape[0], cols.shape[0]
    for y in range(h):
        i, a = rows[y], fy[y]
        ni = i + 1 if a >= 0.5 else i
        for x in range(w):
            j, b = cols[x], fx[x]
            basins[y, x] = owner[ni, j + 1 if b >= 0.5 else j]
            dist[y, x] = _lerp(distance, i, j, a, b)
            person[y, x] = _lerp(seg, i, j, a, b) >= SEGMENTATION_THRESHOLD


def _threshold_masks(person: np.ndarray, distance: np.ndarray, boxes: np.ndarray, threshold: float,
                     rows: np.ndarray, fy: np.ndarray, cols: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """(N, H, W) person pixels inside each person's pixel box whose bilinear distance to
    that person is <= threshold."""
    masks = np.zeros((len(distance), len(rows), len(cols)), dtype=np.bool_)
    _threshold_kernel(person, f32(distance), boxes, float(threshold), rows, fy, cols, fx, masks)
    return masks


@kernel("boolean[:, ::1], float32[:, :, ::1], int64[:, ::1], float64, int64[::1], float32[::1], "
        "int64[::1], float32[::1], boolean[:, :, ::1]", "embedding")
def _threshold_kernel(person, distance, boxes, threshold, rows, fy, cols, fx, masks):
    """Set ``masks`` (N, H, W) as ``_threshold_masks`` describes."""
    n = distance.shape[0]
    for p in range(n):
        plane = distance[p]
        for y in range(boxes[p, 0], boxes[p, 1]):
            for x in range(boxes[p, 2], boxes[p, 3]):
                if person[y, x]:
                    masks[p, y, x] = _lerp(plane, rows[y], cols[x], fy[y], fx[x]) <= threshold


def _nearest_masks(person: np.ndarray, cost: np.ndarray, rows: np.ndarray, fy: np.ndarray,
                   cols: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """(N, H, W): each person pixel given to the person of lowest bilinear cost."""
    masks = np.zeros((len(cost), len(rows), len(cols)), dtype=np.bool_)
    _nearest_kernel(person, f32(cost), rows, fy, cols, fx, masks)
    return masks


@kernel("boolean[:, ::1], float32[:, :, ::1], int64[::1], float32[::1], int64[::1], float32[::1], "
        "boolean[:, :, ::1]", "bodypix", "skeleton")
def _nearest_kernel(person, cost, rows, fy, cols, fx, masks):
    """Set ``masks`` (N, H, W) as ``_nearest_masks`` describes."""
    n, h, w = cost.shape[0], rows.shape[0], cols.shape[0]
    for y in range(h):
        i, a = rows[y], fy[y]
        for x in range(w):
            if not person[y, x]:
                continue
            j, b = cols[x], fx[x]
            best, owner = math.inf, 0
            for p in range(n):
                c = _lerp(cost[p], i, j, a, b)
                if c < best:
                    best, owner = c, p
            masks[owner, y, x] = True
