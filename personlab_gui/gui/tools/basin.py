"""The basin tool (model-assisted): one click adds the basin of attraction under the
mouse, the person pixels whose embedding points to the same person, to the selected
person's mask.
"""

from __future__ import annotations

import numpy as np

from ...core.decoding.assist import basin_region
from ..commands import PaintMask
from .base import Tool


class BasinTool(Tool):
    """Adds whole basins of the model's embedding to a mask."""

    key, name, shortcut = "basin", "Add basin", "W"
    hint = "Basin: click a person area to add its basin of attraction to the selected person's mask."

    def click(self, xy: np.ndarray, double: bool) -> bool:
        result = self.ctx.result()
        if result is None or result.basins is None:
            self.ctx.message("Basins need the model's result with segmentation and long-range heads.")
            return True
        person = self.ctx.selected_person()
        if person is None:
            return True
        region = basin_region(result, xy)
        if region is None:
            self.ctx.message("No person pixels in the basin here.")
            return True
        box, basin = region
        doc = self.ctx.doc
        self.ctx.stack.push(PaintMask(doc, person, box, doc.mask_crop(person, box) | basin, "Add basin"))
        return True
