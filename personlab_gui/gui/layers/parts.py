"""Body parts (BodyPix's 24-part head): every person pixel (p_S >= 0.5) in the colour of its
most likely part, only when the model has the ``parts`` head.

With instance masks, the people the masks layer draws (``shown_masks``) are outlined in
white (inside their masks: white contrasts with every part colour, a person's own colour may
not) and person pixels outside their masks are drawn faded.
The part probabilities and p_S are sampled bilinearly at every image pixel (the exact
image -> grid map of ``result.transform``). Left/right pairs share a hue, the person's left
the deeper shade; a back side is a darker shade of its front.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...core.decoding.result import InferenceResult
from ...core.skeleton import N_PARTS, PART_NAMES, SEGMENTATION_THRESHOLD
from ..probing import pixel_index
from .base import ProbeRows
from .masks import RgbaOverlayLayer, shown_masks

#: RGB per part, in ``PART_NAMES`` order.
PART_COLORS = np.array([
    (225, 50, 120), (255, 150, 190),                                    # face: pink
    (235, 120, 20), (180, 85, 10), (255, 185, 100), (215, 150, 80),     # upper arms: orange
    (225, 200, 0), (165, 150, 0), (255, 240, 120), (215, 205, 95),      # lower arms: yellow
    (120, 190, 20), (195, 240, 125),                                     # hands: lime
    (30, 160, 80), (15, 100, 50),                                        # torso: green
    (30, 110, 225), (20, 70, 160), (120, 180, 255), (85, 140, 215),      # upper legs: blue
    (125, 60, 215), (85, 35, 155), (190, 150, 255), (150, 115, 220),     # lower legs: violet
    (205, 35, 35), (250, 130, 115),                                      # feet: red
], dtype=np.uint8)
PART_ALPHA = 200
#: RGBA of ``NO_PART`` (transparent) then of every part: indexed by part + 1.
PART_RGBA = np.vstack([np.zeros((1, 4), np.uint8),
                       np.column_stack([PART_COLORS, np.full(len(PART_COLORS), PART_ALPHA, np.uint8)])])
#: Alpha of person pixels outside every drawn instance mask.
UNASSIGNED_ALPHA = 100
OUTLINE_PX = 2
OUTLINE = (255, 255, 255, 255)
NO_PART = -1
SAMPLE_CHANNELS = 4


def legend_html() -> str:
    """Rich text: a colour swatch and the name of every part (the layer row's tooltip)."""
    rows = "".join(f'<tr><td style="background-color:#{r:02x}{g:02x}{b:02x}">&nbsp;&nbsp;&nbsp;&nbsp;</td>'
                   f"<td>{name.replace('_', ' ')}</td></tr>" for name, (r, g, b) in zip(PART_NAMES, PART_COLORS))
    return f"<b>Body parts</b> (the person's own left/right)<table>{rows}</table>"


def _grid_affine(result: InferenceResult) -> np.ndarray:
    """(2, 3) affine map image pixel -> field-grid position (``result.image_to_grid``)."""
    origin, x1, y1 = result.image_to_grid(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    return np.column_stack([x1 - origin, y1 - origin, origin])


def _sample(planes: np.ndarray, result: InferenceResult) -> np.ndarray:
    """Bilinear values of grid maps ((h, w) or (h, w, <= 4)) at every image pixel."""
    h, w = result.image_hw
    return cv2.warpAffine(np.ascontiguousarray(planes, dtype=np.float32), _grid_affine(result), (w, h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def part_maps(result: InferenceResult, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At every image pixel in ``region`` (H, W bool): the most likely part (int8, ``NO_PART``
    elsewhere) and its probability (float32, 0 elsewhere)."""
    best = np.zeros(result.image_hw, np.float32)
    part = np.zeros(result.image_hw, np.int8)
    for k0 in range(0, N_PARTS, SAMPLE_CHANNELS):       # OpenCV samples up to 4 channels at once
        probs = _sample(np.moveaxis(result.parts[k0:k0 + SAMPLE_CHANNELS], 0, -1), result)
        for k in range(probs.shape[-1]):
            better = probs[..., k] > best
            np.copyto(best, probs[..., k], where=better)
            np.copyto(part, np.int8(k0 + k), where=better)
    part[~region] = NO_PART
    best[~region] = 0.0
    return part, best


def person_pixels(result: InferenceResult) -> np.ndarray:
    """(H, W) bool: p_S >= 0.5, sampled as ``part_maps`` samples the parts."""
    return _sample(result.segmentation, result) >= SEGMENTATION_THRESHOLD


def _outline(rgba: np.ndarray, mask: np.ndarray) -> None:
    """Paint the ``OUTLINE_PX`` inner border of ``mask`` (H, W bool) in ``OUTLINE``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return
    box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    inside = np.pad(mask[box], 1).astype(np.uint8)      # the image edge is a border too
    eroded = cv2.erode(inside, np.ones((2 * OUTLINE_PX + 1,) * 2, np.uint8))[1:-1, 1:-1]
    rgba[box][mask[box] & (eroded == 0)] = OUTLINE


class PartsLayer(RgbaOverlayLayer):
    """Most likely body part at every person pixel, outlines of the people with masks."""

    key, name, shortcut, z = "parts", "Body parts", "Shift+B", 7
    default_opacity = 0.8
    required_heads = ("segmentation", "parts")
    legend = legend_html()
    _part: np.ndarray | None = None   # the drawn most likely part per image pixel (probe reads it)
    _prob: np.ndarray | None = None

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and result.parts is not None and result.segmentation is not None

    def rgba(self, result: InferenceResult) -> np.ndarray:
        masks = shown_masks(result) if any(p.mask is not None for p in result.people) else []
        self._part, self._prob = part_maps(result, person_pixels(result))
        rgba = PART_RGBA[self._part + 1]                # NO_PART -> transparent
        if masks:
            assigned = np.logical_or.reduce([result.people[j].mask for j in masks])
            np.minimum(rgba[..., 3], UNASSIGNED_ALPHA, out=rgba[..., 3], where=~assigned)
        for j in masks:
            _outline(rgba, result.people[j].mask & (self._part != NO_PART))
        return rgba

    def _clear(self) -> None:
        super()._clear()
        self._part = None

    def probe(self, xy: np.ndarray) -> ProbeRows:
        pixel = pixel_index(self.result.image_hw, xy)
        if pixel is None or self._part is None:
            return []
        k = int(self._part[pixel])
        if k == NO_PART:
            return [("body part", "none (not a person pixel)")]
        return [("body part", f"{PART_NAMES[k].replace('_', ' ')}, p = {self._prob[pixel]:.3f}")]
