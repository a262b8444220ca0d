"""The fill tool: click inside a hole of the selected person's mask to fill it (the
unmasked area around the click, if the mask encloses it).
"""

from __future__ import annotations

import cv2
import numpy as np

from ...core.data.boxes import Box, clip
from ..commands import PaintMask
from .base import Tool


class FillTool(Tool):
    """Fills enclosed holes."""

    key, name, shortcut = "fill", "Fill hole", "Shift+F"
    hint = "Fill: click inside a hole of the selected person's mask."

    def click(self, xy: np.ndarray, double: bool) -> bool:
        person = self.ctx.selected_person()
        if person is None:
            return True
        doc = self.ctx.doc
        box = _grown(doc.mask_box(person), doc.image_hw)
        col, row = np.rint(xy).astype(int)
        if box is None or not (box[0] <= col < box[2] and box[1] <= row < box[3]):
            self.ctx.message("Click inside a hole of the selected person's mask.")
            return True
        crop = doc.mask_crop(person, box)
        hole = _enclosed_area(crop, (col - box[0], row - box[1]))
        if hole is None:
            self.ctx.message("Not a hole: that area is masked already or reaches outside the mask.")
        else:
            self.ctx.stack.push(PaintMask(doc, person, box, crop | hole, "Fill hole"))
        return True


def _grown(box: Box | None, image_hw: tuple[int, int]) -> Box | None:
    """``box`` with one more pixel on each side (inside the image)."""
    return None if box is None else clip((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), image_hw)


def _enclosed_area(mask: np.ndarray, seed: tuple[int, int]) -> np.ndarray | None:
    """The unmasked 4-connected area holding ``seed`` (x, y), if it does not touch the border."""
    if mask[seed[1], seed[0]]:
        return None
    filled = mask.astype(np.uint8)
    cv2.floodFill(filled, None, seed, 2, flags=4)
    area = filled == 2
    border = np.concatenate([area[0], area[-1], area[:, 0], area[:, -1]])
    return None if border.any() else area
