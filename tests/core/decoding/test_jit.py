"""Numba kernels: one compiled signature each, and a first-run preparation that says so."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path


from personlab_gui.core.decoding import jit
from personlab_gui.core.inference.engine import MASK_ASSIGNMENTS, Engine, InferenceSettings
from personlab_gui.core.data.image_io import load_image

ROOT = Path(__file__).resolve().parents[3]
ASTRONAUT = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
ALL_GROUPS = (jit.FIELDS, jit.MASKS, jit.VIEWER, "personlab", "posenet", *MASK_ASSIGNMENTS)


def test_every_kernel_has_exactly_its_declared_signature_after_decoding(shared_data):
    engine = Engine("default", "cpu")
    maps = engine.forward(load_image(shared_data / "people" / "human_group-1.jpg"), InferenceSettings())
    for decoder in ("personlab", "posenet"):
        for assignment in MASK_ASSIGNMENTS:
            result = engine.decode(maps, InferenceSettings(decoder=decoder, mask_assignment=assignment))
            assert result.people and all(p.mask is not None for p in result.people)
    _ = result.mid_raw, result.mid_refined
    declared = jit.kernels(ALL_GROUPS)
    assert len(declared) == 12
    for dispatcher, args in declared:
        assert dispatcher.signatures == [args], dispatcher.py_func.__name__


def test_the_first_run_reports_its_preparation_and_later_runs_do_not(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def infer(out: Path) -> str:
        done = subprocess.run([sys.executable, "-m", "personlab_gui", "infer", str(ASTRONAUT), "--out", str(out)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stderr

    total = len(jit.kernels(Engine("default", "cpu").kernel_groups(InferenceSettings())))
    first = infer(tmp_path / "first.json")
    counts = [(int(a), int(b)) for a, b in re.findall(re.escape(jit.PREPARING) + r": (\d+)/(\d+)", first)]
    assert counts[0] == (0, total) and counts[-1] == (total, total)
    assert [done for done, _ in counts] == sorted(set(done for done, _ in counts))    # strictly increasing
    assert jit.PREPARING not in infer(tmp_path / "second.json")
    assert json.loads((tmp_path / "first.json").read_text()) == json.loads((tmp_path / "second.json").read_text())


def test_the_viewer_shows_the_preparation_while_it_runs(qtbot, monkeypatch):
    from personlab_gui.gui.inference import PREPARING, InferenceService

    release, texts = threading.Event(), []

    def prepare(groups, progress):
        for done in range(3):
            progress(done, 2)
        release.wait(30)

    monkeypatch.setattr("personlab_gui.gui.inference.prepare", prepare)
    monkeypatch.setattr("personlab_gui.gui.inference.ready", lambda groups: False)
    service = InferenceService()
    service.progress.connect(lambda stage, stages, text: texts.append(text))
    service.load_model("default", "cpu")
    qtbot.waitUntil(lambda: len(texts) >= 3, timeout=30000)
    assert texts[-3:] == [f"{PREPARING} {n}/2" for n in range(3)]
    assert service.busy and service.engine is not None
    release.set()
    qtbot.waitUntil(lambda: not service.busy, timeout=30000)
    service.shutdown()
