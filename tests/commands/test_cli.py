"""The command line: infer/eval/models on real and bad inputs (one-line errors, batch goes on)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from personlab_gui.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "personlab_gui" / "data" / "astronaut.jpg"


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_infer_keeps_going_past_bad_files(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "a_good.jpg")
    (folder / "b_text.jpg").write_text("not an image")
    (folder / "c_truncated.jpg").write_bytes(EXAMPLE.read_bytes()[:2000])
    out = tmp_path / "out.json"
    code = main(["infer", str(folder), "--out", str(out), "--size", "257", "--format", "dataset"])
    err = capsys.readouterr().err
    assert code == 1
    errors = _error_lines(err)
    assert len(errors) == 2 and "b_text.jpg" in errors[0] and "c_truncated.jpg" in errors[1]
    data = json.loads(out.read_text())
    assert [img["file_name"] for img in data["images"]] == ["a_good.jpg"]
    assert data["categories"][0]["skeleton"][0] == [16, 14]
    assert len(data["annotations"]) >= 1 and all(a["id"] >= 1 for a in data["annotations"])


def test_infer_results_format_for_one_image(tmp_path):
    out = tmp_path / "res.json"
    assert main(["infer", str(EXAMPLE), "--out", str(out), "--size", "257", "--decoder", "posenet"]) == 0
    results = json.loads(out.read_text())
    assert results and {"image_id", "category_id", "keypoints", "score"} <= set(results[0])
    assert len(results[0]["keypoints"]) == 51


def test_bad_model_and_missing_path_are_one_line_errors(tmp_path, capsys):
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(SystemExit) as exc:
        main(["infer", str(EXAMPLE), "--out", str(tmp_path / "x.json"), "--model", str(corrupt)])
    assert exc.value.code == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "broken.pt" in errors[0]
    assert main(["infer", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "y.json")]) == 1
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "missing.jpg" in errors[0]


def test_eval_rejects_malformed_ground_truth(tmp_path, capsys):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "../escape.jpg", "width": 4, "height": 4}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    assert main(["eval", "--gt", str(gt), "--images", str(tmp_path)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "escape.jpg" in errors[0]
    gt.write_text("{not json")
    assert main(["eval", "--gt", str(gt), "--images", str(tmp_path)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "gt.json" in errors[0]


def test_eval_json_last_line(shared_data, tmp_path):
    """Evaluate on a 3-image subset of the real validation split."""
    folder = shared_data / "coco_dev" / "val"
    gt = json.loads((folder / "person_keypoints.json").read_text())
    keep = {img["id"] for img in gt["images"][:3]}
    gt["images"] = [i for i in gt["images"] if i["id"] in keep]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    subset = tmp_path / "gt.json"
    subset.write_text(json.dumps(gt))
    proc = subprocess.run([sys.executable, "-m", "personlab_gui", "eval", "--gt", str(subset),
                           "--images", str(folder / "images"), "--size", "385", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["images"] == 3 and 0.0 < summary["keypoints"]["AP"] <= 1.0
    assert set(summary["keypoints"]) == {"AP", "AP50", "AP75", "APm", "APl"}
    assert 0.0 <= summary["segm"]["AP"] <= 1.0      # the default model has mask heads
    assert summary["forward_ms"] > 0 and summary["decode_ms"] > 0


def test_models_lists_the_default(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "personlab_distilled_mnv1_075 (default): poses + instance masks" in out
    assert "personlab_mnv1_075: poses + instance masks" in out
    assert "posenet_mnv1_075: poses" in out
