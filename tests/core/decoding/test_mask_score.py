"""``bench/choose_mask_score.py``, the measurement behind the mask score (issue 13 item 5):
its mask statistics read the grid exactly as the mask decoder does, and its baseline rule
scores what ``personlab-gui eval`` scores."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from personlab_gui.core.data.coco_eval import evaluate
from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import detections_to_results
from personlab_gui.core.inference.engine import Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image
from personlab_gui.gui.app import EXAMPLE_IMAGE

BENCH = Path(__file__).resolve().parents[3] / "bench" / "choose_mask_score.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("choose_mask_score", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine("default", "cpu")


def test_statistics_agree_with_the_decoded_masks(bench, engine):
    result = engine.run(load_image(str(EXAMPLE_IMAGE)), InferenceSettings())
    masked = [p for p in result.people if p.mask is not None and p.mask.any()]
    stats = bench.mask_statistics(result, (0.5, 1.0))
    assert len(masked) >= 1 and len(stats) == len(masked)
    for mean_p_s, (close_half, close_all) in stats:
        assert 0.5 <= mean_p_s <= 1.0            # a mask pixel has p_S >= 0.5 ...
        assert close_all >= 0.999                 # ... and D <= t (float rounding at the edge only)
        assert close_half <= close_all
    assert 0.5 < stats[0][1][0] < 1.0            # the astronaut's embedding is mostly well under t


def test_the_baseline_rule_scores_what_eval_scores(bench, engine, shared_data):
    root = shared_data / "coco_dev" / "val"
    data = load_coco(root / "person_keypoints.json")
    images = data["images"][:2]
    ids = {image["id"] for image in images}
    gt = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
    records, results = [], []
    for image in images:
        result = engine.run(load_image(str(root / "images" / image["file_name"])), InferenceSettings())
        records.append(bench.person_records(result))
        results += detections_to_results(image["id"], result.people)
    expected = evaluate(gt, results, ("segm",))["segm"]["AP"]
    assert expected > 0
    assert bench.mask_ap(gt, records, bench.RULES["s (keypoint score)"]) == pytest.approx(expected, abs=1e-9)
