"""Batched and pipelined inference: padded batches give exactly the one-at-a-time
network outputs and people, items come back in order with per-file errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from personlab_gui.cli import main
from personlab_gui.core.inference.batch import run_batch
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.model.runner import NetworkRunner
from personlab_gui.core.data.preprocess import prepare_input


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine("default", "cpu")


@pytest.fixture(scope="module")
def three_images(coco_dev_train: Path) -> list[Path]:
    """Three training images with different network input sizes at 257."""
    paths, shapes = [], set()
    for path in sorted((coco_dev_train / "images").glob("*.jpg")):
        shape = prepare_input(load_image(path), 257)[0].shape
        if shape not in shapes:
            shapes.add(shape)
            paths.append(path)
        if len(paths) == 3:
            return paths
    pytest.skip("coco_dev/train has fewer than three image shapes")


def test_a_padded_batch_gives_the_single_image_outputs(engine, three_images):
    """Bit-identical on this CPU; where the kernel library picks other algorithms for
    another batch size (seen on a 16-core machine: 9e-5 px in offsets of ~36 px) they
    differ by float rounding only."""
    inputs = [prepare_input(load_image(p), 257)[0] for p in three_images]
    runner = NetworkRunner(engine.net, torch.device("cpu"))
    alone = [runner.run([x])[0] for x in inputs]
    together = runner.run(inputs)
    for a, b in zip(alone, together):
        assert a.keys() == b.keys()
        for head in a:
            assert a[head].shape == b[head].shape, head
            assert torch.allclose(a[head], b[head], rtol=1e-5, atol=1e-3), (head, (a[head] - b[head]).abs().max())


def test_without_masking_the_padding_would_leak_into_the_results(engine, three_images):
    """The masking is what makes the batch exact: the plain padded batch differs."""
    inputs = [prepare_input(load_image(p), 257)[0] for p in three_images]
    runner = NetworkRunner(engine.net, torch.device("cpu"))
    hw = np.array([x.shape[1:] for x in inputs]).max(axis=0)
    padded = np.zeros((len(inputs), 3, *hw), dtype=np.float32)
    for i, x in enumerate(inputs):
        padded[i, :, :x.shape[1], :x.shape[2]] = x
    with torch.inference_mode():
        plain = engine.net(torch.from_numpy(padded))["heatmap"]
    smaller = min(range(3), key=lambda i: inputs[i].size)
    alone = runner.run([inputs[smaller]])[0]["heatmap"]
    h, w = alone.shape[-2:]
    assert not torch.allclose(plain[smaller:smaller + 1, :, :h, :w], alone, atol=1e-2)


def test_batch_2_finds_the_same_people_as_batch_1(engine, three_images):
    settings = InferenceSettings(size=257)
    one = list(run_batch(engine, three_images, settings, batch=1))
    two = list(run_batch(engine, three_images, settings, batch=2))
    assert [i.path for i in one] == [i.path for i in two] == three_images
    assert sum(len(i.result.people) for i in one) > 0
    for a, b in zip(one, two):
        assert len(a.result.people) == len(b.result.people)
        for p, q in zip(a.result.people, b.result.people):
            # the network outputs agree (test above); decoding beside the next
            # batch's forward pass may sum in another order, so allow float rounding
            assert np.allclose(p.keypoints, q.keypoints, rtol=0, atol=1e-3)
            assert abs(p.score - q.score) <= 1e-6


def test_several_decoding_threads_give_the_same_people_in_order(engine, three_images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    paths = [*three_images, bad, *three_images]
    settings = InferenceSettings(size=257)
    one = list(run_batch(engine, paths, settings, decoders=1))
    four = list(run_batch(engine, paths, settings, decoders=4))
    assert [i.path for i in four] == paths and four[3].error and four[3].result is None
    for a, b in zip(one, four):
        if a.result is not None:
            assert [p.score for p in a.result.people] == [p.score for p in b.result.people]
            for p, q in zip(a.result.people, b.result.people):
                assert np.array_equal(p.keypoints, q.keypoints)


def test_items_come_in_order_with_a_bad_file_and_progress_counts_each(engine, three_images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    paths = [three_images[0], bad, *three_images[1:]]
    counts: list[int] = []
    items = list(run_batch(engine, paths, InferenceSettings(size=129), lambda n, item: counts.append(n), batch=2))
    assert [item.path for item in items] == paths and counts == [1, 2, 3, 4]
    assert items[1].result is None and "broken.jpg" in items[1].error
    assert all(item.result is not None for i, item in enumerate(items) if i != 1)


def test_infer_batch_option_writes_the_same_file(three_images, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in three_images:
        shutil.copy(path, folder / path.name)
    outs = [tmp_path / f"batch{n}.json" for n in (1, 3)]
    for n, out in zip((1, 3), outs):
        assert main(["infer", str(folder), "--out", str(out), "--size", "257", "--batch", str(n),
                     "--device", "cpu"]) == 0
    one, three = (json.loads(out.read_text()) for out in outs)
    assert len(one) == len(three) > 0
    for a, b in zip(one, three):
        assert (a["image_id"], a["category_id"]) == (b["image_id"], b["category_id"])
        assert np.allclose(a["keypoints"], b["keypoints"], rtol=0, atol=0.011)  # 2 decimals
        assert abs(a["score"] - b["score"]) <= 1e-4


@pytest.mark.parametrize("batch", ["0", "257"])
def test_batch_out_of_range_is_refused_in_one_line(batch, tmp_path, capsys):
    assert main(["infer", str(tmp_path), "--out", str(tmp_path / "r.json"), "--batch", batch]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: --batch {batch}: must be between 1 and 256"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_float32_batches_match_the_cpu(three_images):
    cpu, gpu = Engine("default", "cpu"), Engine("default", "cuda", "float")
    settings = InferenceSettings(size=257)
    for image in map(load_image, three_images):
        a, b = cpu.forward(image, settings), gpu.forward_batch([image, image], settings)[1]
        for head in a.fields:   # probabilities and pixel offsets
            assert np.allclose(a.fields[head], b.fields[head], rtol=1e-4, atol=1e-3), head


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_batches_stay_within_tolerance_of_float_cpu(three_images):
    cpu, gpu = Engine("default", "cpu"), Engine("default", "cuda", "fp16")
    assert gpu.backend == "fp16"
    settings = InferenceSettings(size=257)
    for image in map(load_image, three_images):
        a, b = cpu.forward(image, settings), gpu.forward_batch([image, image], settings)[1]
        assert np.abs(a.fields["heatmap"] - b.fields["heatmap"]).max() < 0.05
        half = [p.keypoints[:, :2] for p in gpu.decode(b, settings).people]
        for person in cpu.decode(a, settings).people[:3]:   # each found again, within 2 px
            assert min(np.median(np.abs(person.keypoints[:, :2] - y)) for y in half) < 2.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_backend_on_cuda_is_fp16():
    assert Engine("default", "cuda", "auto").backend == "fp16"


def test_fp16_is_refused_on_the_cpu_in_one_line():
    with pytest.raises(ValueError, match="^fp16 runs on CUDA only"):
        Engine("default", "cpu", "fp16")
