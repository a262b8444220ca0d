"""Instance masks of the decoded people the people layer draws by default (``confident``),
each in its person's colour, better people on top (when decoded)."""

from __future__ import annotations

import numpy as np

from ...core.decoding.result import InferenceResult
from ..probing import pixel_index
from .base import Layer, ProbeRows, image_pixel_transform
from .image_item import FastImageItem
from .palette import decoded_color, decoded_label
from .people import confident

MASK_ALPHA = 120


class RgbaOverlayLayer(Layer):
    """A layer drawn as one (H, W, 4) uint8 image at image resolution (``rgba(result)``)."""

    def _make_items(self) -> list:
        self.image_item = FastImageItem()
        self.image_item.setTransform(image_pixel_transform())
        return [self.image_item]

    def rgba(self, result: InferenceResult) -> np.ndarray:
        raise NotImplementedError

    def _draw(self, result: InferenceResult) -> None:
        self.image_item.setImage(self.rgba(result), levels=(0, 255), autoLevels=False)

    def _clear(self) -> None:
        self.image_item.clear()


class MasksLayer(RgbaOverlayLayer):
    """Person instance masks (only when the result's people carry masks)."""

    key, name, shortcut, z = "masks", "Instance masks", "K", 30
    default_opacity = 0.8
    required_heads = ("segmentation", "long")

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and any(p.mask is not None for p in result.people)

    def rgba(self, result: InferenceResult) -> np.ndarray:
        rgba = np.zeros((*result.image_hw, 4), np.uint8)
        for j in shown_masks(result)[::-1]:
            rgba[result.people[j].mask] = (*decoded_color(j, self.numbers), MASK_ALPHA)
        return rgba

    def probe(self, xy: np.ndarray) -> ProbeRows:
        pixel = pixel_index(self.result.image_hw, xy)
        if pixel is None:
            return []
        owners = [decoded_label(j, self.numbers) for j in shown_masks(self.result) if self.result.people[j].mask[pixel]]
        return [("mask", ", ".join(owners) or "none")]


def shown_masks(result: InferenceResult) -> list[int]:
    """Indices of the confident people with a mask, best first."""
    keep = confident(result)
    ranked = sorted(np.flatnonzero(keep).tolist(), key=lambda j: -result.people[j].score)
    return [j for j in ranked if result.people[j].mask is not None]
