"""Starting the GUI: ``run_app(argv)`` creates the QApplication and the main window and
opens the given images or folders (the bundled example when there are none).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6 import QtWidgets

EXAMPLE_IMAGE = Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"


def has_display() -> bool:
    """Whether Qt has a screen to draw on (always outside Linux; X11/Wayland or a chosen platform on it)."""
    keys = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    return not sys.platform.startswith("linux") or any(os.environ.get(k) for k in keys)


def application(offscreen_without_display: bool = False) -> QtWidgets.QApplication:
    """The QApplication (created once); optionally offscreen when there is no display."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        if offscreen_without_display and not has_display():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QtWidgets.QApplication([sys.argv[0]])
        app.setApplicationName("PersonLab Studio")
        app.setOrganizationName("PersonLabStudio")
    collect_garbage_in_gui_thread(app)
    return app


def collect_garbage_in_gui_thread(app: QtWidgets.QApplication) -> None:
    """Run Python's cyclic garbage collector only in the GUI thread, on a timer (pyqtgraph's
    ``GarbageCollector``), once per application. Left automatic, a collection can start in a
    worker thread (loading a model, decoding) and destroy dead Qt widgets there, which
    deadlocks against the GUI thread (seen: a menu's actions freed during a model load)."""
    if getattr(app, "_gui_thread_gc", None) is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector
        app._gui_thread_gc = GarbageCollector(interval=1.0)


def run_app(argv: list[str]) -> int:
    """Run PersonLab Studio on ``argv`` (image files and folders); returns the exit code."""
    if not has_display():
        print("personlab-gui: no display to open the window on (set DISPLAY, or run under xvfb-run)",
              file=sys.stderr)
        return 2
    app = application()
    from .main_window import MainWindow  # pyqtgraph items need the QApplication first
    window = MainWindow()
    window.show()
    window.open_paths(list(argv) or [str(EXAMPLE_IMAGE)])
    return app.exec()
