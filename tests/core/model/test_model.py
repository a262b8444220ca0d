"""PersonLabNet, the PoseNet conversion, checkpoint files, the model zoo and device choice."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from personlab_gui.core.model import (CheckpointError, PersonLabNet, load_checkpoint,
                                      resolve_model, save_checkpoint, select_device)
from personlab_gui.core.model.checkpoint import FORMAT, read_checkpoint_info
from personlab_gui.core.model.layers import Conv2dSame, same_padding
from personlab_gui.core.model.zoo import DEFAULT_MODEL, ZOO_ENV, list_models
from personlab_gui.core.skeleton import HEAD_CHANNELS, K, N_EDGES

ROOT = Path(__file__).resolve().parents[3]
POSENET = ROOT / "model_zoo" / "posenet_mnv1_075.pt"
PERSONLAB = ROOT / "model_zoo" / "personlab_mnv1_075.pt"
DISTILLED = ROOT / "model_zoo" / "personlab_distilled_mnv1_075.pt"
REFERENCE = ROOT / "tests" / "data" / "posenet_reference.npz"


@pytest.fixture(scope="module")
def posenet() -> PersonLabNet:
    return load_checkpoint(POSENET)[0]


@pytest.fixture(scope="module")
def small_model() -> PersonLabNet:
    torch.manual_seed(0)
    return PersonLabNet().eval()


@pytest.mark.parametrize("hw", [(17, 17), (33, 49), (129, 97), (65, 33)])
def test_output_shapes_and_stride(small_model: PersonLabNet, hw: tuple[int, int]) -> None:
    with torch.no_grad():
        out = small_model(torch.zeros(2, 3, *hw))
    assert small_model.output_stride == 16
    assert set(out) == set(HEAD_CHANNELS)
    for name, channels in HEAD_CHANNELS.items():
        assert out[name].shape == (2, channels, (hw[0] - 1) // 16 + 1, (hw[1] - 1) // 16 + 1)


def test_same_padding_matches_tf() -> None:
    assert same_padding(33, 3, 2) == (1, 1)
    assert same_padding(32, 3, 2) == (0, 1)
    assert same_padding(10, 1, 1) == (0, 0)
    conv = Conv2dSame(1, 1, 3, stride=2)
    assert conv(torch.zeros(1, 1, 32, 31)).shape == (1, 1, 16, 16)


def test_untrained_heads_are_calm(small_model: PersonLabNet) -> None:
    with torch.no_grad():
        out = small_model(torch.zeros(1, 3, 33, 33))
    assert float(torch.sigmoid(out["segmentation"]).max()) < 0.2
    assert float(out["long"].abs().max()) < 1.0


def _pairs(n: int) -> np.ndarray:
    """PoseNet [n dy, n dx] -> (dx, dy) pairs, written independently of the converter."""
    return np.array([i for c in range(n) for i in (n + c, c)])


def test_conversion_matches_tfjs_reference(posenet: PersonLabNet) -> None:
    ref = np.load(REFERENCE)
    x = ref["image"].astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    with torch.no_grad():
        out = {k: v[0].numpy().transpose(1, 2, 0) for k, v in
               posenet(torch.from_numpy(x.transpose(2, 0, 1).copy())[None]).items()}
    mid_ref = np.concatenate([ref["displacement_fwd"][..., _pairs(N_EDGES)],
                              ref["displacement_bwd"][..., _pairs(N_EDGES)]], axis=-1)
    np.testing.assert_allclose(out["heatmap"], ref["heatmap"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(out["short"], ref["offset"][..., _pairs(K)], atol=5e-3, rtol=0)
    np.testing.assert_allclose(out["mid"], mid_ref, atol=5e-3, rtol=0)


def test_zoo_checkpoint_info(posenet: PersonLabNet) -> None:
    info = read_checkpoint_info(POSENET)
    assert info["trained_heads"] == ["heatmap", "short", "mid"]
    assert info["backbone"] == "mobilenet_v1_075"
    assert info["meta"]["version"] == "3.0.4"
    assert not posenet.training


def test_checkpoint_round_trip(tmp_path: Path, small_model: PersonLabNet) -> None:
    path = tmp_path / "m.pt"
    meta = {"parent": None, "metrics": {"ap": 0.5}}
    save_checkpoint(path, small_model, ["segmentation", "heatmap"], meta)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT and raw["trained_heads"] == ["heatmap", "segmentation"]
    model, info = load_checkpoint(path)
    assert info["meta"] == meta and info["backbone"] == "mobilenet_v1_075"
    for name, value in small_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)


def test_save_rejects_unknown_head(tmp_path: Path, small_model: PersonLabNet) -> None:
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "m.pt", small_model, ["tail"], {})


def _corrupt_files(folder: Path, good: Path) -> list[Path]:
    files = {"random.pt": np.random.default_rng(0).bytes(4096),
             "truncated.pt": good.read_bytes()[: good.stat().st_size // 2],
             "graph.json": json.dumps({"format": "graph-model"}).encode()}
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    torch.save({"weights": torch.zeros(3)}, folder / "foreign.pt")
    torch.save({"format": FORMAT, "when": datetime.date(2024, 1, 1)}, folder / "unsafe.pt")
    state = torch.load(good, weights_only=True)
    state["state_dict"]["heads.heatmap.bias"] = torch.zeros(5)
    torch.save(state, folder / "bad_shape.pt")
    del state["state_dict"]["heads.heatmap.bias"]
    torch.save(state, folder / "missing_key.pt")
    return paths + [folder / n for n in ("foreign.pt", "unsafe.pt", "bad_shape.pt", "missing_key.pt",
                                         "absent.pt")]


def test_corrupt_files_raise_one_line_error(tmp_path: Path, small_model: PersonLabNet) -> None:
    good = tmp_path / "good.pt"
    save_checkpoint(good, small_model, [], {})
    for path in _corrupt_files(tmp_path, good):
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        message = str(err.value)
        assert message.startswith(f"{path}: ") and "\n" not in message, message


def test_resolve_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       small_model: PersonLabNet) -> None:
    assert resolve_model("default") == resolve_model(DEFAULT_MODEL) == DISTILLED
    assert read_checkpoint_info(PERSONLAB)["trained_heads"] == list(HEAD_CHANNELS)
    assert resolve_model(str(POSENET)) == POSENET
    monkeypatch.setenv(ZOO_ENV, str(tmp_path))
    save_checkpoint(tmp_path / "mine.pt", small_model, [], {"source": "test"})
    (tmp_path / "broken.pt").write_bytes(b"nope")
    assert resolve_model("mine") == tmp_path / "mine.pt"
    with pytest.raises(CheckpointError, match="unknown model.*broken, mine"):
        resolve_model("nobody")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        resolve_model(tmp_path / "absent.pt")
    assert [m["name"] for m in list_models()] == ["mine"]


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            select_device("cuda")
        with pytest.raises(ValueError, match="not available"):
            select_device("cuda:1")


def test_personlab_model_keeps_the_parent_pose_branch(posenet: PersonLabNet) -> None:
    model, info = load_checkpoint(PERSONLAB)
    parent = posenet.state_dict()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, parent[k])}
    assert changed == {f"heads.{h}.{p}" for h in ("segmentation", "long") for p in ("weight", "bias")}
    meta = info["meta"]
    assert Path(meta["parent"]).name == POSENET.name and meta["trained_this_run"] == ["segmentation", "long"]
    assert len(meta["train_data"]) == 2 and {"keypoints/AP", "segm/AP"} <= set(meta["metrics"])
