"""Integer pixel boxes ``(x0, y0, x1, y1)`` (ends exclusive) for working on the part of a
large mask that changed: unions, clipping to the image, and the box around a mask.
"""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]


def union(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box holding both (either may be None)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def clip(box: Box, image_hw: tuple[int, int]) -> Box | None:
    """``box`` inside an (H, W) image; None when nothing of it is left."""
    h, w = image_hw
    x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def around(points: np.ndarray, margin: float, image_hw: tuple[int, int]) -> Box | None:
    """The pixels within ``margin`` of any of the (n, 2) x, y ``points``, clipped to the image."""
    (x0, y0), (x1, y1) = np.min(points, axis=0) - margin, np.max(points, axis=0) + margin
    return clip((int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)) + 1, int(np.ceil(y1)) + 1), image_hw)


def nonzero_box(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> Box | None:
    """The box around the True pixels of ``mask`` (shifted by ``offset`` x, y); None if none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return (int(cols[0]) + offset[0], int(rows[0]) + offset[1],
            int(cols[-1]) + 1 + offset[0], int(rows[-1]) + 1 + offset[1])


def slices(box: Box) -> tuple[slice, slice]:
    """Row and column slices of ``box``, to index an (H, W) array."""
    return slice(box[1], box[3]), slice(box[0], box[2])


def intersect(a: Box, b: Box) -> Box | None:
    """The pixels in both boxes; None when they do not overlap."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None
