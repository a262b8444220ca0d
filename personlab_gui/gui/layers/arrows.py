"""Arrow geometry for batched drawing: segments as point pairs for ``connect='pairs'``,
and the thinning step that keeps a dense field readable at the current zoom.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

#: Minimum distance between drawn arrow origins, in screen pixels.
MIN_SPACING_PX = 14.0
HEAD_ANGLE = np.deg2rad(25.0)


def thinning_step(cell_size: float, pixel_size: float) -> int:
    """Power-of-two grid step so arrows stand >= MIN_SPACING_PX screen pixels apart.

    ``cell_size``: one grid cell in image pixels; ``pixel_size``: image pixels per screen pixel.
    """
    cells = MIN_SPACING_PX * pixel_size / max(cell_size, 1e-9)
    return 1 if cells <= 1 else 2 ** math.ceil(math.log2(cells))


def arrow_segments(origins: np.ndarray, tips: np.ndarray, head: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays of 3 segments per arrow (shaft, two head strokes) for 'pairs' drawing.

    ``head`` is the head stroke length in the same units, capped at 40% of the shaft.
    """
    origins, tips = np.asarray(origins, np.float64), np.asarray(tips, np.float64)
    shaft = tips - origins
    length = np.hypot(shaft[:, 0], shaft[:, 1])[:, None]
    back = -shaft / np.maximum(length, 1e-9) * np.minimum(head, 0.4 * length)
    cos, sin = math.cos(HEAD_ANGLE), math.sin(HEAD_ANGLE)
    left = np.stack([back[:, 0] * cos - back[:, 1] * sin, back[:, 0] * sin + back[:, 1] * cos], 1)
    right = np.stack([back[:, 0] * cos + back[:, 1] * sin, -back[:, 0] * sin + back[:, 1] * cos], 1)
    points = np.stack([origins, tips, tips, tips + left, tips, tips + right], axis=1).reshape(-1, 2)
    return points[:, 0], points[:, 1]


def arrows_item(color: tuple[int, int, int], width: float = 1.0) -> pg.PlotCurveItem:
    """One batched curve item drawing any number of arrows with one ``drawLines`` call.

    Opaque, because translucent lines take the raster engine's slow path; and in forced
    ``segmentedLineMode``, because stroking thousands of sub-paths is many times slower.
    """
    item = pg.PlotCurveItem(pen=pg.mkPen(color, width=width), connect="pairs", skipFiniteCheck=True,
                            antialias=False)
    item.setSegmentedLineMode("on")
    return item


def set_arrows(item: pg.PlotCurveItem, origins: np.ndarray, tips: np.ndarray, head: float) -> None:
    """Replace the arrows ``item`` draws."""
    if len(origins):
        x, y = arrow_segments(origins, tips, head)
        item.setData(x=x, y=y, connect="pairs", skipFiniteCheck=True)
    else:
        clear_arrows(item)


def clear_arrows(item: pg.PlotCurveItem) -> None:
    """Draw no arrows."""
    item.setData(x=np.zeros(0), y=np.zeros(0))


def arrow_count(item: pg.PlotCurveItem) -> int:
    """Arrows an ``arrows_item`` currently draws (3 segments, 6 points each)."""
    x = item.xData
    return 0 if x is None else len(x) // 6
