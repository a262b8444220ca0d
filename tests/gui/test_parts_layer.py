"""The body parts layer on BodyPix's real output for the astronaut: where it paints, what the
inspector says under the cursor, ``render --layers parts``, and the row's absence for a
model without the parts head."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from personlab_gui.cli import main
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.skeleton import PART_NAMES, SEGMENTATION_THRESHOLD
from personlab_gui.gui.app import EXAMPLE_IMAGE
from personlab_gui.gui.layers.parts import PART_COLORS, PartsLayer

from .conftest import open_and_wait

BODYPIX = "bodypix_mnv1_075"
FACE_PARTS = {"left_face", "right_face"}


@pytest.fixture(scope="module")
def astronaut():
    """BodyPix's result for the astronaut at the default input size."""
    return Engine(BODYPIX, "cpu").run(load_image(str(EXAMPLE_IMAGE)), InferenceSettings())


@pytest.fixture
def parts_layer(qapp, astronaut) -> PartsLayer:
    layer = PartsLayer()
    layer.visible = True
    layer.update(astronaut)
    return layer


def segmentation_at_pixels(result) -> np.ndarray:
    """p_S bilinear at every image pixel, computed here from the grid map."""
    h, w = result.image_hw
    gx = result.image_to_grid(np.column_stack([np.arange(w), np.zeros(w)]))[:, 0]
    gy = result.image_to_grid(np.column_stack([np.zeros(h), np.arange(h)]))[:, 1]
    seg = result.segmentation

    def taps(u: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        u = np.clip(u, 0, n - 1)
        left = np.minimum(u.astype(int), n - 2)
        return left, u - left

    (r, fy), (c, fx) = taps(gy, seg.shape[0]), taps(gx, seg.shape[1])
    top = seg[r][:, c] * (1 - fx) + seg[r][:, c + 1] * fx
    bottom = seg[r + 1][:, c] * (1 - fx) + seg[r + 1][:, c + 1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def test_parts_are_painted_only_on_person_pixels(parts_layer, astronaut):
    painted = parts_layer.image_item.image[..., 3] > 0
    p_s = segmentation_at_pixels(astronaut)
    assert painted.sum() > 0.1 * painted.size                     # the astronaut fills much of the photo
    assert p_s[painted].min() >= SEGMENTATION_THRESHOLD - 0.01     # bilinear rounding at the border only
    assert painted[p_s >= SEGMENTATION_THRESHOLD + 0.01].all()
    for person in astronaut.people:                               # every mask lies in what is painted
        if person.mask is not None:
            assert painted[person.mask].all()


def test_each_pixel_has_its_most_likely_parts_colour(parts_layer, astronaut):
    nose = astronaut.people[0].keypoints[0, :2]
    col, row = np.rint(nose).astype(int)
    cell = np.rint(astronaut.image_to_grid(nose)).astype(int)
    assert PART_NAMES[int(np.argmax(astronaut.parts[:, cell[1], cell[0]]))] in FACE_PARTS
    rgb = parts_layer.image_item.image[row, col, :3]
    colour_of = {tuple(c): name for name, c in zip(PART_NAMES, PART_COLORS.tolist())}
    assert colour_of[tuple(rgb.tolist())] in FACE_PARTS


def test_the_probe_names_the_face_part_and_its_probability(parts_layer, astronaut):
    (label, text), = parts_layer.probe(astronaut.people[0].keypoints[0, :2])
    assert label == "body part" and text.split(",")[0] in {"left face", "right face"}
    assert 0.5 < float(text.split("p = ")[1]) <= 1.0
    assert parts_layer.probe(np.array([500.0, 5.0])) == [("body part", "none (not a person pixel)")]


def test_the_legend_names_every_part_in_its_colour():
    legend = PartsLayer.legend
    for name, (r, g, b) in zip(PART_NAMES, PART_COLORS):
        assert name.replace("_", " ") in legend and f"#{r:02x}{g:02x}{b:02x}" in legend


def test_left_and_right_parts_share_a_hue():
    hue = lambda rgb: QtGui.QColor(*map(int, rgb)).hueF()  # noqa: E731
    for k, name in enumerate(PART_NAMES):
        if name.startswith("left_"):
            right = PART_COLORS[PART_NAMES.index("right_" + name[5:])]
            assert abs(hue(PART_COLORS[k]) - hue(right)) < 0.05, name
    assert len({tuple(c) for c in PART_COLORS.tolist()}) == len(PART_NAMES)


def test_render_draws_the_parts_inside_the_person(tmp_path, astronaut, qapp):
    plain, parts = tmp_path / "plain.png", tmp_path / "parts.png"
    for out, layers in ((plain, "image"), (parts, "parts")):
        assert main(["render", str(EXAMPLE_IMAGE), "--layers", layers, "--out", str(out),
                     "--model", BODYPIX, "--size", "512x512"]) == 0
    before, after = (_rgb(QtGui.QImage(str(p))) for p in (plain, parts))
    coloured = np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 24
    assert coloured.sum() > 0.05 * coloured.size
    # the canvas draws the photo in a centred square; map changed pixels back to image pixels
    photo = np.argwhere((before != before[0, 0]).any(axis=2))
    (y0, x0), (y1, x1) = photo.min(axis=0), photo.max(axis=0)
    ys, xs = np.nonzero(coloured)
    h, w = astronaut.image_hw
    iy = np.clip(((ys - y0 + 0.5) * h / (y1 - y0 + 1)).astype(int), 0, h - 1)
    ix = np.clip(((xs - x0 + 0.5) * w / (x1 - x0 + 1)).astype(int), 0, w - 1)
    near_person = segmentation_at_pixels(astronaut) >= SEGMENTATION_THRESHOLD - 0.1
    assert near_person[iy, ix].mean() > 0.99


def _rgb(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())[
        :, :3 * image.width()].reshape(image.height(), image.width(), 3).copy()


@pytest.fixture
def prefs(prefs):   # the window of this module runs BodyPix
    prefs.set_model(BODYPIX, "cpu")
    return prefs


def test_inspector_names_the_part_under_the_cursor_and_the_row_follows_the_model(qtbot, window):
    result = open_and_wait(qtbot, window, EXAMPLE_IMAGE)
    row = window.layers_panel.rows["parts"]
    assert row.isVisibleTo(window.layers_panel) and "left face" in row.check.toolTip()
    row.check.setChecked(True)
    window._hovered(result.people[0].keypoints[0, :2])
    table = window.inspector.cursor_table
    cells = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    assert cells["body part"].split(",")[0] in {"left face", "right face"}
    window.service.load_model("posenet_mnv1_075", "cpu")
    qtbot.waitUntil(lambda: window.service.engine.model_name == "posenet_mnv1_075", timeout=60_000)
    assert not row.isVisibleTo(window.layers_panel)
