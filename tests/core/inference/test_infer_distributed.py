"""``torchrun ... -m personlab_gui infer``: images split over 2 CPU processes (gloo), ONE
output byte-identical to a single process's, a bad file named and the rest delivered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun's gloo on Linux/macOS")


def _infer(command: list[str], folder: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}   # torchrun's default: same float sums
    return subprocess.run([sys.executable, *command, "-m", "personlab_gui", "infer", str(folder),
                           "--out", str(out), "--size", "257", "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=300)


def test_two_processes_write_exactly_the_single_process_output(coco_dev_train, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted((coco_dev_train / "images").glob("*.jpg"))[:3]:
        shutil.copy(path, folder / path.name)
    (folder / "b_broken.jpg").write_bytes(b"not a jpeg")    # sorted last: rank 1 fails on it
    single, double = tmp_path / "single.json", tmp_path / "double.json"
    one = _infer([], folder, single)
    two = _infer(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"], folder, double)
    assert one.returncode == 1 and two.returncode != 0, two.stderr
    assert double.read_bytes() == single.read_bytes()
    people = json.loads(single.read_text())
    assert len({r["image_id"] for r in people}) >= 2     # the people of several images
    for run in (one, two):
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "b_broken.jpg" in errors[0], run.stderr
        assert "wrote" in run.stderr and "in 3 images" in run.stderr
    assert two.stderr.count("wrote ") == 1                  # rank 0 alone writes and reports
