"""Recurrent offset refinement: a long vector is corrected by the field found where it lands.

mid-range:  M_{k,l}(x) <- x' - x + S_l(x'),  x' = x + M_{k,l}(x)   (twice)
long-range: L_k(x) <- x' - x + L_k(x') (twice), then L_k(x) <- x' - x + S_k(x') (twice)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .sampling import bilinear_vector
from .skeleton import DIRECTED_EDGES, K

MID_REFINE_STEPS = 2


@njit(cache=True)
def _refine_step(vectors: np.ndarray, by: np.ndarray, by_channel: np.ndarray,
                 field_stride: int) -> np.ndarray:
    """out[c](x) = x' - x + by[by_channel[c]](x'), x' = x + vectors[c](x)."""
    n, h, w, _ = vectors.shape
    out = np.empty_like(vectors)
    for c in range(n):
        src = by_channel[c]
        for i in range(h):
            for j in range(w):
                vx, vy = vectors[c, i, j, 0], vectors[c, i, j, 1]
                gx, gy = j + vx / field_stride, i + vy / field_stride
                sx, sy = bilinear_vector(by, src, gx, gy)
                out[c, i, j, 0] = vx + sx
                out[c, i, j, 1] = vy + sy
    return out


def refine_mid(mid: np.ndarray, short: np.ndarray, field_stride: int,
               steps: int = MID_REFINE_STEPS) -> list[np.ndarray]:
    """The mid-range field after each refinement step (a list of ``steps`` arrays)."""
    targets = np.ascontiguousarray(DIRECTED_EDGES[:, 1])
    out = []
    for _ in range(steps):
        mid = _refine_step(mid, short, targets, field_stride)
        out.append(mid)
    return out


def refine_long(long: np.ndarray, short: np.ndarray, field_stride: int) -> np.ndarray:
    """Long-range field refined twice by itself, then twice by the short-range offsets."""
    same = np.arange(K)
    for _ in range(2):
        long = _refine_step(long, long, same, field_stride)
    for _ in range(2):
        long = _refine_step(long, short, same, field_stride)
    return long
