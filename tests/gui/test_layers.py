"""Layers on hand-made results: placement on image pixels, arrows, optional heads, probes."""

from __future__ import annotations

import numpy as np
import pytest

from personlab_gui.core.skeleton import K, KEYPOINT_NAMES
from personlab_gui.gui.layers import LAYER_CLASSES, make_layers
from personlab_gui.gui.layers.arrows import arrow_count, arrow_segments, thinning_step
from personlab_gui.gui.layers.base import grid_transform
from personlab_gui.gui.layers.image_item import FastImageItem
from personlab_gui.gui.layers.vector_field import MAX_ARROWS, ShortRangeLayer
from personlab_gui.gui.probing import click_rows, embedding_distances, grid_cell

from .synthetic import KEYPOINTS, make_result

OPTIONAL = {"segmentation", "basins", "parts", "masks", "long"}


@pytest.fixture
def layers(qapp):
    """Every layer, switched on (hidden layers draw nothing)."""
    made = make_layers()
    for layer in made.values():
        layer.visible = True
    return made


def test_grid_transform_puts_cell_centres_on_their_image_pixels():
    result = make_result()
    transform = grid_transform(result)
    for col, row in [(0, 0), (5, 7), (20, 11)]:
        centre = transform.map(col + 0.5, row + 0.5)   # item coordinates of the cell's centre
        np.testing.assert_allclose(centre, result.grid_to_image(np.array([col, row])), atol=1e-9)


def test_every_layer_has_the_one_interface(layers):
    assert [cls.key for cls in LAYER_CLASSES] == list(layers)
    result = make_result(with_long=True)
    for layer in layers.values():
        layer.update(result)
        layer.visible = True
        layer.opacity = 0.5
        assert layer.items and layer.name and layer.shortcut
        if layer.colormaps:
            layer.colormap = layer.colormaps[-1]
        restored = make_layers()[layer.key]
        restored.restore(layer.state())
        assert restored.state() == layer.state()


def test_heads_a_model_lacks_make_their_layers_absent(layers):
    pose_only = ("heatmap", "short", "mid")
    result = make_result()
    for key, layer in layers.items():
        assert layer.applies_to(pose_only) == (key not in OPTIONAL)
        layer.update(result)
        if key in OPTIONAL:
            assert not layer.shown and not any(item.isVisible() for item in layer.items)


def test_hidden_layers_draw_nothing_until_shown(layers):
    short = layers["short"]
    short.visible = False
    short.update(make_result())
    assert arrow_count(short.arrows) == 0
    short.visible = True
    assert arrow_count(short.arrows) > 0


def test_heatmap_layer_shows_the_chosen_map_and_probes_it(layers):
    result, heatmap = make_result(), layers["heatmap"]
    heatmap.update(result)
    assert heatmap.image_item.image.shape == result.grid_hw
    nose = KEYPOINTS[0, :2]
    assert heatmap.probe(nose) == [("p_k nose", "1.000")]
    heatmap.set_option("keypoint", 0)   # all types: max
    np.testing.assert_array_equal(heatmap.image_item.image, result.heatmaps.max(axis=0))
    assert heatmap.probe(np.array([5.0, 5.0]))[0][0] == "p_k max"


def test_hough_candidates_are_marked_with_scores_on_hover(layers):
    result, hough = make_result(), layers["hough"]
    hough.update(result)
    assert len(hough.candidates_item.data) == 1      # nose only
    hough.set_option("keypoint", 0)
    assert len(hough.candidates_item.data) == K
    rows = dict(hough.probe(KEYPOINTS[3, :2] + 1.0))
    assert rows[f"candidate {KEYPOINT_NAMES[3]}"].startswith("0.500")


def test_short_range_arrows_only_where_the_heatmap_says_so(layers):
    result, short = make_result(), layers["short"]
    short.update(result)            # zoom 1:1, whole grid: step 1 (cells are 6 px apart)
    view = np.array([0.0, 0.0, 200.0, 160.0])
    short.view_changed(1.0, view)
    cell_px = short.cell_size(result)
    assert short.step == thinning_step(cell_px, 1.0) == 4
    expected = np.count_nonzero(result.heatmaps[0][::4, ::4])
    assert arrow_count(short.arrows) == expected > 0
    x, y = short.arrows.xData[:2], short.arrows.yData[:2]    # first shaft ends at the nose
    np.testing.assert_allclose([x[1], y[1]], KEYPOINTS[0, :2], atol=1e-6)
    short.view_changed(0.1, view / 10)     # zoomed in 10x on the top-left corner
    assert short.step == 1


def test_arrows_are_capped_and_follow_the_view(layers):
    result, short = make_result(), ShortRangeLayer()
    short.visible = True
    short.update(result)
    short.set_option("keypoint", 0)
    short.view_changed(0.01, np.array([90.0, 20.0, 110.0, 40.0]))
    near_nose = arrow_count(short.arrows)
    short.view_changed(0.01, np.array([90.0, 120.0, 110.0, 140.0]))   # pan down to the ankles
    assert arrow_count(short.arrows) > 0 and short.arrows.yData.min() > 40.0
    assert near_nose <= MAX_ARROWS


def test_arrow_geometry():
    x, y = arrow_segments(np.array([[0.0, 0.0]]), np.array([[10.0, 0.0]]), head=2.0)
    assert len(x) == 6
    np.testing.assert_allclose([x[1], y[1]], [10, 0])
    assert x[3] < 10 and x[5] < 10 and y[3] * y[5] < 0    # two head strokes, backwards, mirrored


def test_mid_range_layer_steps_through_refinement(layers):
    result, mid = make_result(), layers["mid"]
    mid.update(result)
    assert mid.option("step").value == "refined 2" and arrow_count(mid.arrows) > 0
    for index, field in enumerate([result.mid_raw, *result.mid_refined]):
        mid.set_option("step", index)
        assert mid.vectors(result) is field


def test_people_layer_draws_coco_links_and_labels(layers):
    result, people = make_result(), layers["people"]
    people.update(result)
    assert people.skeletons.segment_count == 19
    assert [label.text for label in people.skeletons.labels] == ["#0 0.80"]
    assert len(people.keypoints_item.data) == K
    assert people.probe(KEYPOINTS[0, :2])[0][0] == "person #0 nose"


def test_long_range_layers_and_embedding_distance(layers):
    result = make_result(with_long=True)
    for key in ("long", "segmentation", "basins", "masks"):
        layers[key].update(result)
        assert layers[key].shown
    assert arrow_count(layers["long"].arrows) > 0
    inside = np.array([100.0, 80.0])
    assert dict(layers["basins"].probe(inside))["basin"] == "#0, D = 0.050"
    assert dict(layers["masks"].probe(inside))["mask"] == "#0"
    distances = embedding_distances(result, inside)
    assert distances.shape == (1,) and distances[0] < 0.01   # exact offsets: G_k = y_k
    assert click_rows(result, inside)[0][1].endswith("joins")


def test_probe_layer_draws_the_embedding_or_the_offsets(layers):
    probe = layers["probe"]
    probe.update(make_result(with_long=True))
    probe.set_point(np.array([100.0, 80.0]))
    assert arrow_count(probe.arrows) == K
    probe.update(make_result())
    rows = click_rows(probe.result, probe.point)
    assert arrow_count(probe.arrows) == len(rows) > K        # S_k for every k, plus mid


def test_trace_layer_draws_each_kind_of_step(layers):
    result, trace = make_result(), layers["trace"]
    trace.update(result)
    trace.set_step(0)
    assert len(trace.marker.data) == 1 and trace.label.textItem.toPlainText() == "#0 seed nose 0.50"
    trace.set_step(1)
    assert arrow_count(trace.arrow) == 1 and len(trace.history.data) == 1
    trace.set_step(2)
    assert len(trace.circle.xData) > 0 and arrow_count(trace.arrow) == 0
    trace.set_step(-1)
    assert not trace.marker.data.size


def test_fast_image_item_bakes_opacity(qapp):
    item = FastImageItem()
    item.setImage(np.full((4, 4, 3), 200, np.uint8), levels=(0, 255), autoLevels=False)
    item.set_alpha(0.5)
    item.render()
    assert item.opacity() == 1.0 and item.qimage.pixelColor(0, 0).alpha() in (127, 128)


def test_grid_cell_outside_the_image_is_none():
    result = make_result()
    assert grid_cell(result, np.array([-50.0, 10.0])) is None
    assert grid_cell(result, np.array([0.0, 0.0])) == (0, 0)
