"""Recurrent offset refinement: a long vector is corrected by the field found where it lands.

mid-range:  M_{k,l}(x) <- x' - x + S_l(x'),  x' = x + M_{k,l}(x)   (twice)
long-range: L_k(x) <- x' - x + L_k(x') (``self_steps``, by default the model's), then
            L_k(x) <- x' - x + S_k(x') (twice)
"""

from __future__ import annotations

import numpy as np

from .jit import MASKS, VIEWER, f32, kernel
from ..skeleton import DIRECTED_EDGES, K

MID_REFINE_STEPS = 2
#: Long-range self-refinement steps of a model whose checkpoint names none (its
#: ``meta["decoding"]["long_self_steps"]``). The paper refines twice; with
#: ``personlab_mnv1_075``'s coarse long-range head (1x1 conv on frozen stride-16 features,
#: mean error ~47 px) one step is best on the training split (segm AP 0.117 with 1 step,
#: 0.092 with 2, 0.106 with 0).
LONG_SELF_REFINE_STEPS = 1
LONG_SHORT_REFINE_STEPS = 2


@kernel("float32[:, :, :, ::1], float32[:, :, :, ::1], int64[::1], int64, boolean[:, ::1], "
        "float32[:, :, :, ::1]", MASKS, VIEWER, fastmath=True)
def _refine_step(vectors, by, by_channel, field_stride, active, out):
    """out[c](x) = x' - x + by[by_channel[c]](x'), x' = x + vectors[c](x) (float32, bilinear),
    at the cells where ``active`` (h, w) is set (``out`` holds ``vectors`` elsewhere)."""
    n, h, w, _ = vectors.shape
    inv = np.float32(1.0 / field_stride)
    for c in range(n):
        field = by[by_channel[c]]
        for i in range(h):
            for j in range(w):
                if not active[i, j]:
                    continue
                vx, vy = vectors[c, i, j, 0], vectors[c, i, j, 1]
                gx = min(max(j + vx * inv, np.float32(0.0)), np.float32(w - 1))
                gy = min(max(i + vy * inv, np.float32(0.0)), np.float32(h - 1))
                x0, y0 = min(int(gx), max(w - 2, 0)), min(int(gy), max(h - 2, 0))
                x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
                fx, fy = gx - x0, gy - y0
                for d in range(2):
                    top = field[y0, x0, d] + (field[y0, x1, d] - field[y0, x0, d]) * fx
                    bottom = field[y1, x0, d] + (field[y1, x1, d] - field[y1, x0, d]) * fx
                    out[c, i, j, d] = vectors[c, i, j, d] + top + (bottom - top) * fy


def _refined(vectors: np.ndarray, by: np.ndarray, by_channel: np.ndarray, field_stride: int,
             active: np.ndarray) -> np.ndarray:
    """One refinement step of ``vectors`` by the field ``by`` (see ``_refine_step``)."""
    vectors = f32(vectors)
    out = vectors.copy()
    _refine_step(vectors, f32(by), np.ascontiguousarray(by_channel, dtype=np.int64), int(field_stride),
                 np.ascontiguousarray(active, dtype=np.bool_), out)
    return out


def refine_mid(mid: np.ndarray, short: np.ndarray, field_stride: int,
               steps: int = MID_REFINE_STEPS) -> list[np.ndarray]:
    """The mid-range field after each refinement step (a list of ``steps`` arrays)."""
    targets = np.ascontiguousarray(DIRECTED_EDGES[:, 1])
    everywhere = np.ones(mid.shape[1:3], dtype=np.bool_)
    out = []
    for _ in range(steps):
        mid = _refined(mid, short, targets, field_stride, everywhere)
        out.append(mid)
    return out


def refine_long(long: np.ndarray, short: np.ndarray, field_stride: int,
                active: np.ndarray | None = None,
                self_steps: int = LONG_SELF_REFINE_STEPS) -> np.ndarray:
    """Long-range field refined ``self_steps`` times by itself, then twice by the
    short-range offsets.

    Only the cells where ``active`` (h, w) is set are refined (all when None); the others
    keep the raw field. Self-refinement reads the previous step's field, so with more than
    one self step a refined cell whose vector lands outside ``active`` reads a raw value there.
    """
    same = np.arange(K)
    active = np.ones(long.shape[1:3], dtype=np.bool_) if active is None else active
    for _ in range(self_steps):
        long = _refined(long, long, same, field_stride, active)
    for _ in range(LONG_SHORT_REFINE_STEPS):
        long = _refined(long, short, same, field_stride, active)
    return long
