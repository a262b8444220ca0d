"""Shared pytest fixtures. Qt is forced offscreen before any test imports it."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

#: The project's shared data folder, a sibling of the repository root.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    # pycocotools' Cython decode trips a numpy 2 DeprecationWarning on every call.
    config.addinivalue_line("filterwarnings",
                            "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``shared/data``; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def coco_dev_train(shared_data: Path) -> Path:
    """``shared/data/coco_dev/train``; skips the test when it is absent."""
    root = shared_data / "coco_dev" / "train"
    if not (root / "person_keypoints.json").is_file():
        pytest.skip(f"COCO dev training data not found at {root}")
    return root
