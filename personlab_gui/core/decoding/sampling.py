"""Bilinear sampling of grid fields at sub-cell positions (numba), shared by the decoders."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _cell(h: int, w: int, gx: float, gy: float) -> tuple[int, int, int, int, float, float]:
    """Corner indices (x0, y0, x1, y1) and fractions (fx, fy) of grid position (gx, gy),
    clamped to the border."""
    gx = min(max(gx, 0.0), w - 1.0)
    gy = min(max(gy, 0.0), h - 1.0)
    x0, y0 = min(int(gx), max(w - 2, 0)), min(int(gy), max(h - 2, 0))
    return x0, y0, min(x0 + 1, w - 1), min(y0 + 1, h - 1), gx - x0, gy - y0


@njit(cache=True, inline="always")
def bilinear(field: np.ndarray, c: int, gx: float, gy: float) -> float:
    """Sample scalar map ``field[c]`` (C, h, w) at grid position (gx, gy)."""
    x0, y0, x1, y1, fx, fy = _cell(field.shape[1], field.shape[2], gx, gy)
    top = field[c, y0, x0] * (1 - fx) + field[c, y0, x1] * fx
    bottom = field[c, y1, x0] * (1 - fx) + field[c, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


@njit(cache=True, inline="always")
def bilinear_vector(field: np.ndarray, c: int, gx: float, gy: float) -> tuple[float, float]:
    """Sample vector field ``field[c]`` (C, h, w, 2) at grid position (gx, gy)."""
    x0, y0, x1, y1, fx, fy = _cell(field.shape[1], field.shape[2], gx, gy)
    out = [0.0, 0.0]
    for d in range(2):
        top = field[c, y0, x0, d] * (1 - fx) + field[c, y0, x1, d] * fx
        bottom = field[c, y1, x0, d] * (1 - fx) + field[c, y1, x1, d] * fx
        out[d] = top * (1 - fy) + bottom * fy
    return out[0], out[1]
