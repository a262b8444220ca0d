"""BodyPix in the zoo: the parts head, the committed conversion, and the TFLite reference.

The TFLite comparison needs ``ai_edge_litert`` (or ``tflite_runtime``) and the shared
``models/bodypix`` file; it skips with the reason when either is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.model import PersonLabNet, load_checkpoint, save_checkpoint
from personlab_gui.core.model.checkpoint import CheckpointError
from personlab_gui.core.model.layers import Conv2dSame
from personlab_gui.core.data.pseudo_labels import LABEL
from personlab_gui.core.decoding.result import InferenceResult
from personlab_gui.core.skeleton import KEYPOINT_NAMES, N_PARTS, PART_FLIP_PERMUTATION, PART_NAMES

ROOT = Path(__file__).resolve().parents[3]
BODYPIX = ROOT / "model_zoo" / "bodypix_mnv1_075.pt"
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
TFLITE = ROOT.parent / "shared" / "models" / "bodypix" / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"
#: TFLite output tensor -> project head.
OUTPUTS = {"float_heatmaps": "heatmap", "float_short_offsets": "short", "float_mid_offsets": "mid",
           "float_segments": "segmentation", "float_long_offsets": "long", "float_part_heatmaps": "parts"}
ACTIVATION_STEP = 6 / 255  # the graph's uint8 ReLU6 activations


@pytest.fixture(scope="module")
def astronaut_runs() -> dict[bool, InferenceResult]:
    engine = Engine(BODYPIX)
    image = load_image(ASTRONAUT)
    return {flip: engine.run(image, InferenceSettings(flip=flip)) for flip in (False, True)}


def test_parts_names_and_flip() -> None:
    assert len(PART_NAMES) == N_PARTS == 24
    for i, j in enumerate(PART_FLIP_PERMUTATION):
        a, b = PART_NAMES[i], PART_NAMES[j]
        assert b == a.replace("left_", "@").replace("right_", "left_").replace("@", "right_")


def test_parts_head_round_trip_and_old_files(tmp_path: Path) -> None:
    net = PersonLabNet(extra_heads=("parts",))
    assert net(torch.zeros(1, 3, 33, 49))["parts"].shape == (1, N_PARTS, 3, 4)
    save_checkpoint(tmp_path / "p.pt", net, ["heatmap", "parts"], {})
    loaded, info = load_checkpoint(tmp_path / "p.pt")
    assert info["extra_heads"] == ["parts"] and info["trained_heads"] == ["heatmap", "parts"]
    assert torch.equal(loaded.heads["parts"].weight, net.heads["parts"].weight)
    plain = PersonLabNet()
    assert "parts" not in plain(torch.zeros(1, 3, 33, 33))
    old, old_info = load_checkpoint(ROOT / "model_zoo" / "personlab_mnv1_075.pt")  # no extra_heads key
    assert old_info["extra_heads"] == [] and "parts" not in old.heads
    with pytest.raises(ValueError, match="parts"):
        save_checkpoint(tmp_path / "q.pt", plain, ["parts"], {})
    payload = torch.load(tmp_path / "p.pt", weights_only=True)
    for bad, problem in ((["tail"], "bad extra_heads"), ([["parts"]], "bad extra_heads"),
                         ("parts", "bad extra_heads"), ([], "bad trained_heads")):
        torch.save({**payload, "extra_heads": bad}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match=problem):
            load_checkpoint(tmp_path / "bad.pt")


def test_committed_bodypix_checkpoint() -> None:
    net, info = load_checkpoint(BODYPIX)
    assert info["trained_heads"] == ["heatmap", "short", "mid", "segmentation", "long", "parts"]
    assert net.heads["parts"].out_channels == N_PARTS
    assert info["meta"]["license"].startswith("Apache-2.0")
    sha = info["meta"]["sha256"]["bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"]
    assert sha == "6abaed4ad9080cafd327d0f03fd23f0c46d4409b75b6e23abde9a35582067696"


def test_models_command_lists_the_parts_head(capsys) -> None:
    from personlab_gui.cli import main

    assert main(["models"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if "bodypix_mnv1_075" in row)
    assert "segmentation, long, parts]" in line


def test_astronaut_one_person_with_mask_and_face_parts(astronaut_runs) -> None:
    result = astronaut_runs[False]
    assert result.label_verdicts.count(LABEL) == 1
    person = result.people[result.label_verdicts.index(LABEL)]
    assert person.mask is not None and person.mask.sum() > 0.05 * person.mask.size
    assert result.parts.shape == (N_PARTS, *result.grid_hw)
    best = result.parts.argmax(axis=0)
    for name, part in (("left_eye", "left_face"), ("left_ear", "left_face"),
                       ("right_eye", "right_face"), ("right_ear", "right_face")):
        x, y = np.round(result.image_to_grid(person.keypoints[KEYPOINT_NAMES.index(name), :2])).astype(int)
        assert PART_NAMES[best[y, x]] == part, name


def test_flip_fusion_keeps_body_sides(astronaut_runs) -> None:
    """The flipped pass's left/right part channels are swapped back before averaging."""
    plain, fused = (astronaut_runs[flip].parts.argmax(axis=0) for flip in (False, True))
    sided = np.isin(plain, [i for i, n in enumerate(PART_NAMES) if n.startswith(("left_", "right_"))])
    sided &= astronaut_runs[False].parts.max(axis=0) > 0.5
    assert sided.sum() > 200
    assert (plain[sided] == fused[sided]).mean() > 0.85


# ---- the TFLite reference --------------------------------------------------------------
def _interpreter_class():
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            return importlib.import_module(module).Interpreter
    pytest.skip("neither ai_edge_litert nor tflite_runtime is installed (pip install ai-edge-litert)")


def _converter():
    sys.path.insert(0, str(ROOT / "model_zoo"))
    try:
        return importlib.import_module("convert_bodypix")
    finally:
        sys.path.pop(0)


def _reference(interpreter, rgb: np.ndarray) -> dict[str, tuple[np.ndarray, float, float]]:
    """TFLite outputs (h, w, C) as uint8 codes with (scale, zero point), by project head."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], rgb[None])
    interpreter.invoke()
    return {OUTPUTS[d["name"]]: (interpreter.get_tensor(d["index"])[0], *d["quantization"])
            for d in interpreter.get_output_details()}


def _project_layout(head: str, codes: np.ndarray, converter) -> np.ndarray:
    """BodyPix channel order -> the project's (what the converter applied to the weights)."""
    orders = {"short": converter.yx_to_pairs(17), "long": converter.yx_to_pairs(17),
              "mid": converter.mid_order(converter.EDGE_VECTORS)}
    return codes[..., orders[head]] if head in orders else codes


def _quantize_activations(module: torch.nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
    return torch.round(output.clamp(0, 6) / ACTIVATION_STEP) * ACTIVATION_STEP


def _differences(net: PersonLabNet, rgb: np.ndarray, reference: dict, converter) -> dict[str, tuple[float, float]]:
    """Per head: (max, mean) |ours - TFLite| in output quantisation steps; ours is clamped
    to the uint8 output's range, as the graph's is."""
    h, w = rgb.shape[:2]
    x = torch.zeros(1, 3, h + 1, w + 1)  # the graph pads 1280 x 720 to 1281 x 721 (bottom/right)
    x[0, :, :h, :w] = torch.from_numpy((rgb.astype(np.float32) - 128) / 128).permute(2, 0, 1)
    with torch.inference_mode():
        ours = {k: v[0].permute(1, 2, 0).numpy() for k, v in net(x).items()}
    diffs = {}
    for head, (codes, scale, zero) in reference.items():
        ref = (_project_layout(head, codes, converter).astype(np.float32) - zero) * scale
        mine = np.clip(ours[head], -zero * scale, (255 - zero) * scale)
        steps = np.abs(mine - ref) / scale
        diffs[head] = (float(steps.max()), float(steps.mean()))
    return diffs


def test_matches_tflite_on_coco_images(coco_dev_train: Path) -> None:
    """Both networks on two real COCO images at the graph's 1280 x 720: the float conversion
    stays within a few output steps; emulating the graph's uint8 activations, within ~half
    a step on average (what is left is the integer kernels' own rounding)."""
    interpreter_class = _interpreter_class()
    if not TFLITE.is_file():
        pytest.skip(f"BodyPix TFLite file not found: {TFLITE}")
    import cv2

    interpreter = interpreter_class(model_path=str(TFLITE))
    interpreter.allocate_tensors()
    converter = _converter()
    net, _ = load_checkpoint(BODYPIX)
    names = [im["file_name"] for im in json.loads((coco_dev_train / "person_keypoints.json").read_text())["images"]]
    table = {}
    for name in names[:2]:
        rgb = cv2.resize(load_image(coco_dev_train / "images" / name), (720, 1280), interpolation=cv2.INTER_AREA)
        reference = _reference(interpreter, rgb)
        plain = _differences(net, rgb, reference, converter)
        hooks = [m.register_forward_hook(_quantize_activations) for m in net.backbone.modules()
                 if isinstance(m, Conv2dSame)]
        emulated = _differences(net, rgb, reference, converter)
        for hook in hooks:
            hook.remove()
        table[name] = (plain, emulated)
        print(name, json.dumps({h: [plain[h], emulated[h]] for h in plain}))
    for plain, emulated in table.values():
        assert set(plain) == set(OUTPUTS.values())
        for head in plain:
            assert plain[head][1] < 2.5 and plain[head][0] < 40, (head, plain[head])
            assert emulated[head][1] < 0.6 and emulated[head][0] < 6, (head, emulated[head])
