"""Bilinear sampling of grid fields at sub-cell positions (numba), shared by the decoders."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def bilinear(field: np.ndarray, c: int, gx: float, gy: float) -> float:
    """Sample scalar map ``field[c]`` (C, h, w) at grid position (gx, gy), clamped to the border."""
    h, w = field.shape[1], field.shape[2]
    gx = min(max(gx, 0.0), w - 1.0)
    gy = min(max(gy, 0.0), h - 1.0)
    x0, y0 = min(int(gx), w - 2) if w > 1 else 0, min(int(gy), h - 2) if h > 1 else 0
    fx, fy = gx - x0, gy - y0
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    top = field[c, y0, x0] * (1 - fx) + field[c, y0, x1] * fx
    bottom = field[c, y1, x0] * (1 - fx) + field[c, y1, x1] * fx
    return top * (1 - fy) + bottom * fy


@njit(cache=True, inline="always")
def bilinear_vector(field: np.ndarray, c: int, gx: float, gy: float) -> tuple[float, float]:
    """Sample vector field ``field[c]`` (C, h, w, 2) at grid position (gx, gy)."""
    h, w = field.shape[1], field.shape[2]
    gx = min(max(gx, 0.0), w - 1.0)
    gy = min(max(gy, 0.0), h - 1.0)
    x0, y0 = min(int(gx), w - 2) if w > 1 else 0, min(int(gy), h - 2) if h > 1 else 0
    fx, fy = gx - x0, gy - y0
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    w00, w01 = (1 - fx) * (1 - fy), fx * (1 - fy)
    w10, w11 = (1 - fx) * fy, fx * fy
    vx = (field[c, y0, x0, 0] * w00 + field[c, y0, x1, 0] * w01
          + field[c, y1, x0, 0] * w10 + field[c, y1, x1, 0] * w11)
    vy = (field[c, y0, x0, 1] * w00 + field[c, y0, x1, 1] * w01
          + field[c, y1, x0, 1] * w10 + field[c, y1, x1, 1] * w11)
    return vx, vy
