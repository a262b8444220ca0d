"""Per-model decoding settings: ``meta["decoding"]`` in checkpoints, used by the engine
unless ``InferenceSettings`` (or ``--long-refine-steps``) overrides them."""

from __future__ import annotations

import numpy as np
import pytest

from personlab_gui.cli import main
from personlab_gui.core.inference.engine import Engine, InferenceSettings, long_self_steps
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.model import CheckpointError, PersonLabNet, load_checkpoint, resolve_model, save_checkpoint
from personlab_gui.core.decoding.refine import LONG_SELF_REFINE_STEPS
from personlab_gui.core.skeleton import ALL_HEADS

SIZE = 257


def test_bodypix_decodes_with_two_long_range_self_steps():
    assert load_checkpoint(resolve_model("bodypix_mnv1_075"))[1]["decoding"] == {"long_self_steps": 2}
    assert load_checkpoint(resolve_model("personlab_mnv1_075"))[1]["decoding"] == {}


def test_the_user_overrides_the_model_which_overrides_the_default():
    model = {"long_self_steps": 2}
    assert long_self_steps(InferenceSettings(), model) == 2
    assert long_self_steps(InferenceSettings(long_refine_steps=0), model) == 0
    assert long_self_steps(InferenceSettings(), {}) == LONG_SELF_REFINE_STEPS
    with pytest.raises(ValueError, match="refinement steps 9"):
        InferenceSettings(long_refine_steps=9)


@pytest.mark.parametrize("decoding, problem", [({"long_self_steps": 9}, "0..8"),
                                               ({"long_self_steps": 1.5}, "integer"),
                                               ({"beam": 2}, "known: long_self_steps"),
                                               ([2], "bad decoding settings")])
def test_bad_decoding_settings_are_refused_in_one_line(tmp_path, decoding, problem):
    path = tmp_path / "model.pt"
    save_checkpoint(path, PersonLabNet(), list(ALL_HEADS), {"decoding": decoding})
    with pytest.raises(CheckpointError, match=problem) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_the_engine_refines_with_the_models_steps_on_a_real_image(coco_dev_train):
    engine = Engine("bodypix_mnv1_075", device="cpu")
    image = load_image(coco_dev_train / "images" / "000000000165.jpg")
    maps = engine.forward(image, InferenceSettings(size=SIZE))
    default = engine.decode(maps, InferenceSettings(size=SIZE))
    two = engine.decode(maps, InferenceSettings(size=SIZE, long_refine_steps=2))
    one = engine.decode(maps, InferenceSettings(size=SIZE, long_refine_steps=1))
    assert default.people and default.long_refined is not None
    np.testing.assert_array_equal(default.long_refined, two.long_refined)
    assert np.abs(default.long_refined - one.long_refined).max() > 1.0   # pixels


def test_cli_refuses_out_of_range_steps_in_one_line(coco_dev_train, capsys):
    code = main(["eval", "--gt", str(coco_dev_train / "person_keypoints.json"),
                 "--images", str(coco_dev_train / "images"), "--long-refine-steps", "9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "refinement steps 9" in err
