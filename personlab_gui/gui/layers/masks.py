"""Instance masks of the decoded people, one translucent colour per person (when decoded)."""

from __future__ import annotations

import numpy as np

from ...core.result import InferenceResult
from ..probing import pixel_index
from .base import Layer, ProbeRows, image_pixel_transform
from .image_item import FastImageItem
from .palette import person_colors

MASK_ALPHA = 120


def rgba_overlay_item() -> FastImageItem:
    """An ImageItem for an (H, W, 4) uint8 overlay at image resolution."""
    item = FastImageItem()
    item.setTransform(image_pixel_transform())
    return item


class MasksLayer(Layer):
    """Person instance masks (only when the result's people carry masks)."""

    key, name, shortcut, z = "masks", "Instance masks", "K", 30
    default_opacity = 0.8
    required_heads = ("segmentation", "long")

    def _make_items(self) -> list:
        self.image_item = rgba_overlay_item()
        return [self.image_item]

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and any(p.mask is not None for p in result.people)

    def _draw(self, result: InferenceResult) -> None:
        rgba = np.zeros((*result.image_hw, 4), np.uint8)
        for color, person in zip(person_colors(len(result.people)), result.people):
            if person.mask is not None:
                rgba[person.mask] = (*color, MASK_ALPHA)
        self.image_item.setImage(rgba, levels=(0, 255), autoLevels=False)

    def _clear(self) -> None:
        self.image_item.clear()

    def probe(self, xy: np.ndarray) -> ProbeRows:
        pixel = pixel_index(self.result.image_hw, xy)
        if pixel is None:
            return []
        owners = [f"#{j}" for j, p in enumerate(self.result.people) if p.mask is not None and p.mask[pixel]]
        return [("mask", ", ".join(owners) or "none")]
