"""Hough score maps and their local maxima (keypoint candidates).

h_k(x) = 1/(pi R^2) * sum_i p_k(x_i) B(x_i + S_k(x_i) - x), accumulated on the field grid
(``field_stride`` input pixels per cell). Every grid cell stands for field_stride^2 input
pixels and so does every accumulator cell; we scale by field_stride^2 so that a full disk of
certain votes (p = 1) landing on one cell scores 1. Cells with p_k < ``MIN_VOTE`` do not
vote (their contribution is below float noise of the sum).
"""

from __future__ import annotations

import math

import numpy as np

from .jit import FIELDS, f32, kernel
from .skeleton import DISK_RADIUS

MIN_VOTE = 0.01
CANDIDATE_THRESHOLD = 0.03


@kernel("float32[:, :, ::1], float32[:, :, :, ::1], int64, float64, float32[:, :, ::1]", FIELDS)
def _splat(heat, short, field_stride, min_vote, acc):
    """Add every cell's vote to ``acc`` (K, h, w), bilinearly split over 4 cells."""
    n, h, w = heat.shape
    for k in range(n):
        for i in range(h):
            for j in range(w):
                p = heat[k, i, j]
                if p < min_vote:
                    continue
                gx = j + short[k, i, j, 0] / field_stride
                gy = i + short[k, i, j, 1] / field_stride
                x0, y0 = math.floor(gx), math.floor(gy)
                fx, fy = gx - x0, gy - y0
                for dy in range(2):
                    yy = y0 + dy
                    if yy < 0 or yy >= h:
                        continue
                    wy = fy if dy else 1.0 - fy
                    for dx in range(2):
                        xx = x0 + dx
                        if 0 <= xx < w:
                            acc[k, yy, xx] += p * wy * (fx if dx else 1.0 - fx)


def hough_maps(heat: np.ndarray, short: np.ndarray, field_stride: int) -> np.ndarray:
    """Hough score maps (K, h, w) from heatmap probabilities (K, h, w) and short offsets (K, h, w, 2)."""
    heat, short = f32(heat), f32(short)
    acc = np.zeros(heat.shape, dtype=np.float32)
    _splat(heat, short, int(field_stride), MIN_VOTE, acc)
    acc *= field_stride ** 2 / (np.pi * DISK_RADIUS ** 2)
    return acc


@kernel("float32[:, :, ::1], float64, int64, float32[:, ::1]", "personlab")
def _local_maxima(hough, threshold, field_stride, out):
    """Write candidates (k, x, y, score) into the rows of ``out``; returns how many."""
    n, h, w = hough.shape
    count = 0
    for k in range(n):
        for i in range(h):
            for j in range(w):
                v = hough[k, i, j]
                if v < threshold:
                    continue
                is_max = True
                sw, sx, sy = 0.0, 0.0, 0.0
                for di in range(-1, 2):
                    for dj in range(-1, 2):
                        ii, jj = i + di, j + dj
                        if 0 <= ii < h and 0 <= jj < w:
                            u = hough[k, ii, jj]
                            if u > v or (u == v and (di < 0 or (di == 0 and dj < 0))):
                                is_max = False
                            sw += u
                            sx += u * dj
                            sy += u * di
                if is_max and count < out.shape[0]:
                    out[count, 0] = k
                    out[count, 1] = (j + sx / sw) * field_stride
                    out[count, 2] = (i + sy / sw) * field_stride
                    out[count, 3] = v
                    count += 1
    return count


def local_maxima(hough: np.ndarray, field_stride: int,
                 threshold: float = CANDIDATE_THRESHOLD) -> np.ndarray:
    """Candidates (n, 4): keypoint type, x, y (input px, 3x3 centroid), score; best first."""
    hough = f32(hough)
    out = np.empty((hough.size // 4 + 1, 4), dtype=np.float32)
    cands = out[:_local_maxima(hough, float(threshold), int(field_stride), out)]
    return cands[np.argsort(-cands[:, 3], kind="stable")]

