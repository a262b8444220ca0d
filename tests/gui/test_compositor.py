"""The raster compositor: visible raster layers blended in order, re-blended on change."""

from __future__ import annotations

import numpy as np
import pytest

from personlab_gui.gui.canvas import Canvas
from personlab_gui.gui.layers import make_layers

from .synthetic import IMAGE_HW, KEYPOINTS, make_result


@pytest.fixture
def canvas(qapp):
    canvas = Canvas(make_layers())
    canvas.set_image(np.full((*IMAGE_HW, 3), 40, np.uint8))
    canvas.set_result(make_result())
    return canvas


def rgb(canvas: Canvas, xy: np.ndarray) -> tuple[int, int, int]:
    colour = canvas.rasters.buffer.pixelColor(*np.rint(xy).astype(int))
    return colour.red(), colour.green(), colour.blue()


def test_the_photo_and_the_maps_become_one_opaque_image(canvas):
    buffer = canvas.rasters.buffer
    assert (buffer.width(), buffer.height()) == IMAGE_HW[::-1]
    assert not buffer.hasAlphaChannel()                   # the photo covers it: fast to draw
    nose, corner = KEYPOINTS[0, :2], np.array([5.0, 5.0])
    assert rgb(canvas, corner) == (40, 40, 40)             # heatmap 0 there: the photo
    assert rgb(canvas, nose) != (40, 40, 40)               # heatmap 1 at the nose


def test_changes_are_blended_again(canvas):
    nose = KEYPOINTS[0, :2]
    with_heatmap = rgb(canvas, nose)
    canvas.layers["heatmap"].visible = False
    assert rgb(canvas, nose) == (40, 40, 40)
    canvas.layers["heatmap"].visible = True
    canvas.layers["heatmap"].opacity = 0.3
    faded = rgb(canvas, nose)
    assert faded != with_heatmap and sum(abs(a - 40) for a in faded) < sum(abs(a - 40) for a in with_heatmap)
    canvas.layers["image"].visible = False
    assert canvas.rasters.buffer.hasAlphaChannel()
