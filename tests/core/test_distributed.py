"""``Distributed.leave``: a torchrun process ends with its status, its output flushed and
the interpreter's shutdown skipped; outside torchrun it only returns the status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from personlab_gui.core.distributed import Distributed

REPO = Path(__file__).resolve().parents[2]

_RANK = """
import atexit, sys
from personlab_gui.core.distributed import Distributed
atexit.register(lambda: print("shutdown ran", file=sys.stderr))
print("written", end="")
print("said", end="", file=sys.stderr)
Distributed.from_env().leave(7)
print("not reached")
"""


def test_without_torchrun_leave_returns_the_status():
    assert Distributed(world_size=1).leave(3) == 3


def test_a_torchrun_rank_ends_at_once_with_its_output_flushed():
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _RANK], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 7
    assert proc.stdout == "written"
    assert proc.stderr == "said"
