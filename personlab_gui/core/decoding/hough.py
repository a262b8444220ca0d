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
from ..skeleton import DISK_RADIUS

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


def local_maxima(hough: np.ndarray, field_stride: int,
                 threshold: float = CANDIDATE_THRESHOLD) -> np.ndarray:
    """Candidates (n, 4): keypoint type, x, y (input px), score; best first.

    A candidate is a cell scoring >= ``threshold`` that no 3x3 neighbour beats (a tie goes
    to the neighbour first in raster order); its position is the centroid of its 3x3 window
    weighted by score.
    """
    n, h, w = hough.shape
    k, i, j = np.nonzero(hough >= threshold)
    v = hough[k, i, j]
    padded = np.pad(hough, ((0, 0), (1, 1), (1, 1)))      # outside: adds nothing to the sums
    is_max = np.ones(len(v), dtype=bool)
    sw, sx, sy = np.zeros(len(v)), np.zeros(len(v)), np.zeros(len(v))
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            u = padded[k, i + 1 + di, j + 1 + dj]
            inside = (i + di >= 0) & (i + di < h) & (j + dj >= 0) & (j + dj < w)
            is_max &= ~(inside & ((u > v) | ((u == v) & (di < 0 or (di == 0 and dj < 0)))))
            u = u.astype(np.float64)
            sw += u
            sx += u * dj
            sy += u * di
    cands = np.stack([k, (j + sx / sw) * field_stride, (i + sy / sw) * field_stride, v],
                     axis=1)[is_max].astype(np.float32)
    return cands[np.argsort(-cands[:, 3], kind="stable")]
