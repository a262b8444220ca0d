"""Fixtures of the viewer tests: a window on temporary settings (input size 257, so CPU
inference stays quick) and the real images it opens."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from PySide6 import QtCore

from personlab_gui.core.inference.engine import InferenceSettings
from personlab_gui.gui.app import EXAMPLE_IMAGE, collect_garbage_in_gui_thread
from personlab_gui.gui.preferences import Preferences

SHARED_PHOTO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "people" / "yolov5_zidane.jpg"
TEST_SIZE = 257
#: Engine loading and CPU inference at 257 px take about a second; allow for a busy machine.
RESULT_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session", autouse=True)
def _garbage_collected_in_gui_thread(qapp) -> None:
    """As the app does (``app.application``): Qt objects are never freed by a collection
    that a worker thread happens to start."""
    collect_garbage_in_gui_thread(qapp)


@pytest.fixture
def prefs(tmp_path: Path) -> Preferences:
    prefs = Preferences(QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat))
    prefs.set_inference_settings(InferenceSettings(size=TEST_SIZE))
    return prefs


@pytest.fixture
def window(qtbot, prefs: Preferences):
    from personlab_gui.gui.main_window import MainWindow

    win = MainWindow(prefs)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.service.engine is not None, timeout=RESULT_TIMEOUT_MS)
    yield win
    win.service.shutdown()


@pytest.fixture
def people_image() -> Path:
    """A real photo of people: the shared data's, else the bundled astronaut (one person)."""
    return SHARED_PHOTO if SHARED_PHOTO.is_file() else EXAMPLE_IMAGE


def open_and_wait(qtbot, window, path: Path | str):
    """Open ``path`` and wait for its result; returns it."""
    window.open_paths([str(path)])
    qtbot.waitUntil(lambda: window.session.result is not None
                    and window.session.current_path == str(Path(path).resolve()), timeout=RESULT_TIMEOUT_MS)
    return window.session.result


@pytest.fixture
def example_image() -> Path:
    return EXAMPLE_IMAGE


@pytest.fixture
def other_image(tmp_path: Path) -> Path:
    """A second photo, different from ``people_image`` whichever that is: the astronaut, mirrored."""
    path = tmp_path / "astronaut_mirrored.png"
    cv2.imwrite(str(path), cv2.imread(str(EXAMPLE_IMAGE))[:, ::-1])
    return path
