"""``train --progress-json``: one JSON event per line (start, eval of the starting model,
steps, eval, saved), the baseline in the model's meta, and errors as events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personlab_gui.cli import main
from personlab_gui.core.model import read_checkpoint_info


@pytest.fixture(scope="module")
def sets(request, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(train JSON of 2 images, validation JSON of 1 other image, images folder)."""
    root = request.getfixturevalue("shared_data") / "coco_dev" / "train"
    if not (root / "person_keypoints.json").is_file():
        pytest.skip(f"COCO dev training data not found at {root}")
    gt = json.loads((root / "person_keypoints.json").read_text())
    folder = tmp_path_factory.mktemp("sets")
    paths = []
    for name, images in (("train", gt["images"][:2]), ("val", gt["images"][2:3])):
        ids = {image["id"] for image in images}
        path = folder / f"{name}.json"
        path.write_text(json.dumps({**gt, "images": images,
                                    "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
        paths.append(path)
    return paths[0], paths[1], root / "images"


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_progress_events_and_the_baseline_in_the_meta(sets, tmp_path, capsys):
    train, val, images = sets
    out = tmp_path / "m.pt"
    assert main(["train", "--train", str(train), "--images", str(images), "--val", str(val),
                 "--val-images", str(images), "--out", str(out), "--steps", "2", "--batch", "1",
                 "--size", "129", "--workers", "0", "--device", "cpu", "--log-every", "1",
                 "--eval-at-start", "--progress-json", "--loss-weights", "heatmap=2,long=0.5"]) == 0
    captured = capsys.readouterr()
    events = _events(captured.err) + _events(captured.out)
    assert [e["event"] for e in events] == ["start", "eval", "step", "step", "eval", "saved"]
    start, baseline, step = events[:3]
    assert start["max_steps"] == 2 and start["images"] == 2
    assert baseline["start"] and "keypoints/AP" in baseline["metrics"]
    assert step["step"] == 1 and {"total", "heatmap", "long"} <= set(step["losses"]) and step["lr"] > 0
    assert events[-1]["path"] == str(out) and not events[-1]["cancelled"]
    meta = read_checkpoint_info(out)["meta"]
    assert meta["start_metrics"] == baseline["metrics"] and meta["metrics"] == events[-2]["metrics"]
    assert meta["settings"]["loss_weights"]["heatmap"] == 2.0 and meta["settings"]["eval_at_start"]


def test_errors_are_events_and_running_out_of_memory_is_explained(sets, tmp_path, capsys, monkeypatch):
    train, _, images = sets
    args = ["train", "--train", str(train), "--images", str(tmp_path), "--out", str(tmp_path / "m.pt"),
            "--steps", "1", "--progress-json"]
    assert main(args) == 2
    (error,) = _events(capsys.readouterr().err)
    assert error["event"] == "error" and "image file not found" in error["message"]

    def out_of_memory(*_args, **_kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB")
    monkeypatch.setattr("personlab_gui.core.training.train", out_of_memory)
    assert main([*args[:4], str(images), *args[5:]]) == 2
    (error,) = _events(capsys.readouterr().err)
    assert error["message"].startswith("out of memory: lower --batch or --size")
