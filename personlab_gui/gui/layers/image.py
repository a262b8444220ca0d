"""The photo itself, in original image pixels (pixel centres on integer coordinates)."""

from __future__ import annotations

import numpy as np

from ...core.decoding.result import InferenceResult
from ..probing import pixel_index
from .base import Layer, ProbeRows, image_pixel_transform
from .image_item import FastImageItem


class ImageLayer(Layer):
    """The RGB image; shown as soon as it is loaded, before any result exists."""

    key, name, shortcut, z = "image", "Image", "I", 0
    default_visible = True

    def __init__(self) -> None:
        self.image: np.ndarray | None = None
        super().__init__()

    def _make_items(self) -> list:
        self.image_item = FastImageItem()
        self.image_item.setTransform(image_pixel_transform())
        return [self.image_item]

    def set_image(self, image: np.ndarray | None) -> None:
        """Show ``image`` (H, W, 3) RGB uint8, or nothing."""
        self.image = image
        if image is None:
            self.image_item.clear()
        else:
            self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        self._apply_visibility()

    def available(self, result: InferenceResult | None) -> bool:
        return self.image is not None

    def _draw(self, result: InferenceResult) -> None:
        """The photo does not depend on the result."""

    def probe(self, xy: np.ndarray) -> ProbeRows:
        pixel = pixel_index(self.image.shape[:2], xy)
        if pixel is None:
            return []
        r, g, b = self.image[pixel]
        return [("pixel", f"({pixel[1]}, {pixel[0]})  RGB {r} {g} {b}")]
