"""Basins of attraction of the geometric embedding: colour by person, brightness by the
embedding distance D (bright = close), only when the long-range head is trained.
"""

from __future__ import annotations

import numpy as np

from ...core.decoding.result import InferenceResult
from ...core.skeleton import MASK_THRESHOLD
from ..probing import pixel_index
from .base import ProbeRows
from .masks import RgbaOverlayLayer
from .palette import Numbers, decoded_colors, decoded_label

BASIN_ALPHA = 170
#: Distances at or beyond this many mask thresholds t are drawn darkest.
DARKEST_AT = 2.0
MIN_BRIGHTNESS = 0.2


def basin_rgba(basins: np.ndarray, distance: np.ndarray, people: int, numbers: Numbers = None) -> np.ndarray:
    """(H, W, 4) uint8: person colour scaled by closeness; transparent outside basins."""
    inside = basins >= 0
    closeness = 1.0 - np.clip(distance / (DARKEST_AT * MASK_THRESHOLD), 0.0, 1.0)
    brightness = MIN_BRIGHTNESS + (1.0 - MIN_BRIGHTNESS) * closeness
    colors = decoded_colors(max(people, 1), numbers).astype(np.float32)
    rgba = np.zeros((*basins.shape, 4), np.uint8)
    rgba[inside, :3] = (colors[basins[inside]] * brightness[inside, None]).astype(np.uint8)
    rgba[inside, 3] = BASIN_ALPHA
    return rgba


class BasinsLayer(RgbaOverlayLayer):
    """Which person each pixel's embedding points to, and how closely."""

    key, name, shortcut, z = "basins", "Embedding basins", "B", 6
    default_opacity = 0.7
    required_heads = ("segmentation", "long")

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and result.basins is not None and result.basin_distance is not None

    def rgba(self, result: InferenceResult) -> np.ndarray:
        return basin_rgba(result.basins, result.basin_distance, len(result.people), self.numbers)

    def probe(self, xy: np.ndarray) -> ProbeRows:
        pixel = pixel_index(self.result.image_hw, xy)
        if pixel is None:
            return []
        basin = int(self.result.basins[pixel])
        owner = decoded_label(basin, self.numbers) if basin >= 0 else "none"
        return [("basin", f"{owner}, D = {self.result.basin_distance[pixel]:.3f}")]
