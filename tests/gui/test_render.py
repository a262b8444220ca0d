"""``personlab-gui render`` and the layer specs it takes."""

from __future__ import annotations


import pytest
from PySide6 import QtGui

from personlab_gui.cli import main
from personlab_gui.gui.layer_spec import LayerSpecError, apply_spec, parse_spec
from personlab_gui.gui.layers import make_layers


def test_layer_specs_choose_layers_and_options(qapp):
    layers = make_layers()
    apply_spec(parse_spec("heatmap:nose,hough:all,mid:5:raw,people", layers), layers)
    shown = {key for key, layer in layers.items() if layer.visible}
    assert shown == {"image", "heatmap", "hough", "mid", "people"}
    assert layers["hough"].option("keypoint").value == "all"
    assert layers["mid"].option("edge").index == 5 and layers["mid"].option("step").value == "raw"


@pytest.mark.parametrize("spec, message", [
    ("heatmap:elbow", "heatmap:elbow: not a choice"),
    ("nope", "nope: unknown layer"),
    ("people:all:more", "takes at most 1 value"),
])
def test_bad_layer_specs_say_why(qapp, spec, message):
    with pytest.raises(LayerSpecError, match=message):
        parse_spec(spec, make_layers())


def test_render_writes_the_canvas_to_a_png(tmp_path, example_image, capsys):
    out = tmp_path / "view.png"
    code = main(["render", str(example_image), "--layers", "heatmap:nose,hough:all,mid:5,basins,people",
                 "--out", str(out), "--size", "320x240", "--input-size", "257",
                 "--model", "posenet_mnv1_075"])
    assert code == 0
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (320, 240)
    assert "skipping layer basins" in capsys.readouterr().err     # the pose-only model has no long-range head


@pytest.mark.parametrize("args, message", [
    (["--size", "12x"], "--size must be WxH"),
    (["--layers", "heatmap:elbow"], "heatmap:elbow: not a choice"),
])
def test_render_errors_are_one_line(tmp_path, example_image, capsys, args, message):
    assert main(["render", str(example_image), "--out", str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_render_with_an_unknown_model(tmp_path, example_image, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", str(example_image), "--out", str(tmp_path / "x.png"), "--model", "no_such_model"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: no_such_model: unknown model")


def test_render_of_a_missing_image(tmp_path, capsys):
    assert main(["render", str(tmp_path / "none.jpg"), "--out", str(tmp_path / "x.png")]) == 2
    assert "none.jpg: file not found" in capsys.readouterr().err
