"""int8 CPU network: exact static padding, calibration cached per checkpoint and loaded
safely, a damaged cache rebuilt, every zoo model quantizable, ``--backend`` choices."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.model import load_checkpoint
from personlab_gui.core.model import quantize
from personlab_gui.core.model.checkpoint import tensor_checksum
from personlab_gui.core.model.zoo import zoo_dir, zoo_names
from personlab_gui.core.data.preprocess import prepare_input

pytestmark = pytest.mark.skipif(quantize.int8_engine() is None, reason="no x86/fbgemm quantized kernels")
SIZE = 129


@pytest.fixture
def calibration(coco_dev_train, tmp_path, monkeypatch) -> list[Path]:
    """Two calibration images, small inputs and a private cache folder."""
    folder = tmp_path / "calibration"
    folder.mkdir()
    for path in sorted((coco_dev_train / "images").glob("*.jpg"))[:2]:
        shutil.copy(path, folder / path.name)
    monkeypatch.setenv(quantize.CALIBRATION_ENV, str(folder))
    monkeypatch.setenv(quantize.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(quantize, "CALIBRATION_SIZE", SIZE)
    return sorted(folder.iterdir())


def _input(path: Path, size: int = SIZE) -> torch.Tensor:
    return torch.from_numpy(prepare_input(load_image(path), size)[0])[None]


def test_static_padding_gives_the_same_outputs_on_engine_inputs(coco_dev_train):
    net, _ = load_checkpoint(zoo_dir() / "personlab_mnv1_075.pt")
    x = _input(sorted((coco_dev_train / "images").glob("*.jpg"))[0], 257)
    with torch.inference_mode():
        a, b = net(x), quantize.static_padding(net)(x)
    for head in a:
        assert torch.allclose(a[head], b[head], atol=1e-4), head


def test_calibration_is_cached_the_cache_reloads_and_a_damaged_one_is_rebuilt(calibration, monkeypatch,
                                                                              caplog):
    net, _ = load_checkpoint(zoo_dir() / "personlab_mnv1_075.pt")
    checksum = tensor_checksum(net.state_dict())
    first = quantize.quantized_network(net, checksum)
    (path,) = Path(quantize.cache_dir()).glob("*.int8.pt")
    assert checksum.removeprefix("sha256:")[:32] in path.name
    real_calibrate = quantize.calibrate
    monkeypatch.setattr(quantize, "calibrate", lambda *a, **k: pytest.fail("calibrated again"))
    second = quantize.quantized_network(net, checksum)
    x = _input(calibration[0])
    with torch.inference_mode():
        a, b = first(x), second(x)
    assert all(torch.equal(a[head], b[head]) for head in a)
    path.write_bytes(path.read_bytes()[:1000])          # damaged: calibrated again, with a warning
    monkeypatch.setattr(quantize, "calibrate", real_calibrate)
    with caplog.at_level(logging.WARNING):
        third = quantize.quantized_network(net, checksum)
    assert "calibrating again" in caplog.text and path.stat().st_size > 1000
    with torch.inference_mode():
        assert torch.equal(third(x)["heatmap"], a["heatmap"])


def test_the_int8_network_tracks_the_float_one(calibration, coco_dev_train):
    net, _ = load_checkpoint(zoo_dir() / "personlab_mnv1_075.pt")
    model = quantize.calibrate(net, calibration, SIZE)
    x = _input(sorted((coco_dev_train / "images").glob("*.jpg"))[5])
    with torch.inference_mode():
        a, b = torch.sigmoid(net(x)["heatmap"]), torch.sigmoid(model(x)["heatmap"])
    correlation = np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1]
    assert correlation > 0.8
    with pytest.raises(ValueError, match="sides must be 16"):
        model(torch.zeros(1, 3, 100, 100))


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_model_runs_in_int8(name, calibration):
    engine = Engine(name, "cpu", "int8")
    assert engine.backend == "int8"
    maps = engine.forward(load_image(calibration[0]), InferenceSettings(size=SIZE))
    assert set(maps.fields) == set(engine._heads()) and len(maps.fields) >= 3
    assert all(np.isfinite(field).all() for field in maps.fields.values())


def test_backend_choices(calibration):
    assert Engine("default", "cpu", "auto").backend == "int8"
    assert Engine("default", "cpu").backend == "float"
    with pytest.raises(ValueError, match="unknown backend"):
        Engine("default", "cpu", "int4")
