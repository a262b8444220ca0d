"""``--backend onnx``: the float32 network in ONNX Runtime gives PyTorch's outputs to float
rounding and the same people, batches equal-size images, is exported once and cached, and
a damaged cache is exported again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from personlab_gui.cli import main  # noqa: E402
from personlab_gui.core.data.image_io import load_image  # noqa: E402
from personlab_gui.core.data.preprocess import prepare_input  # noqa: E402
from personlab_gui.core.inference.engine import Engine, InferenceSettings  # noqa: E402
from personlab_gui.core.model import onnx_backend  # noqa: E402
from personlab_gui.core.model.quantize import CACHE_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
SIZE = 321


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def photo(shared_data) -> np.ndarray:
    return load_image(shared_data / "people" / "yolov5_zidane.jpg")


def test_outputs_and_people_equal_pytorch_float(cache, photo):
    torch_engine, onnx_engine = Engine("default", "cpu"), Engine("default", "cpu", "onnx")
    assert onnx_engine.backend == "onnx"
    x = prepare_input(photo, SIZE, 16)[0]
    (expected,), (got,) = torch_engine.runner.run([x]), onnx_engine.runner.run([x])
    assert expected.keys() == got.keys()
    for head in expected:
        assert torch.allclose(expected[head], got[head], rtol=1e-4, atol=2e-3), head
    settings = InferenceSettings(size=SIZE)
    a, b = torch_engine.run(photo, settings).people, onnx_engine.run(photo, settings).people
    assert len(a) == len(b) >= 2
    for p, q in zip(a, b):
        assert np.abs(p.keypoints[:, :2] - q.keypoints[:, :2]).max() < 0.05 and abs(p.score - q.score) < 1e-3


def test_equal_size_images_run_as_one_batch(cache, photo):
    engine = Engine("default", "cpu", "onnx")
    x = prepare_input(photo, SIZE, 16)[0]
    alone = engine.runner.run([x])[0]
    pair = engine.runner.run([x, x[:, ::-1].copy()])
    assert torch.allclose(pair[0]["heatmap"], alone["heatmap"], atol=1e-5)
    assert not torch.allclose(pair[1]["heatmap"], alone["heatmap"], atol=1e-2)


def test_the_export_is_cached_and_a_damaged_cache_is_exported_again(cache, monkeypatch):
    Engine("default", "cpu", "onnx")
    (cached,) = cache.glob("*.onnx")
    exports = []
    real_export = onnx_backend.export
    monkeypatch.setattr(onnx_backend, "export", lambda *args: exports.append(args) or real_export(*args))
    Engine("default", "cpu", "onnx")
    assert exports == []
    cached.write_bytes(b"not a model")
    engine = Engine("default", "cpu", "onnx")
    assert len(exports) == 1 and cached.stat().st_size > 1_000_000
    assert engine.run(load_image(ASTRONAUT), InferenceSettings(size=SIZE)).people


def test_inputs_off_the_stride_grid_are_refused(cache):
    engine = Engine("default", "cpu", "onnx")
    with pytest.raises(ValueError, match="16 \\* n \\+ 1"):
        engine.runner.run([np.zeros((3, 40, 40), np.float32)])


def test_infer_with_onnx_writes_the_float_results(cache, tmp_path):
    outs = {b: tmp_path / f"{b}.json" for b in ("float", "onnx")}
    for backend, out in outs.items():
        assert main(["infer", str(ASTRONAUT), "--out", str(out), "--size", str(SIZE), "--backend", backend]) == 0
    a, b = (json.loads(p.read_text()) for p in outs.values())
    assert len(a) == len(b) >= 1
    assert np.allclose([r["keypoints"] for r in a], [r["keypoints"] for r in b], atol=0.05)


def test_without_onnxruntime_the_backend_is_refused_in_one_line(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(onnx_backend, "onnx_available", lambda: False)
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as stop:
        main(["infer", str(ASTRONAUT), "--out", str(out), "--backend", "onnx"])
    assert stop.value.code == 2 and not out.exists()
    assert capsys.readouterr().err.strip().splitlines() == [
        'error: onnx: needs the onnx and onnxruntime packages (pip install "personlab-gui[onnx]")']
