"""The training child process: ``python -m personlab_gui train ... --progress-json`` in a
``QProcess``, so a crash there never takes the app down and the GUI never waits.

Output lines arrive as signals: JSON objects as ``event`` (see ``commands/train.py``),
anything else (warnings, a traceback) as ``line``. Stop touches the cancel file; the
trainer then saves its state and a usable checkpoint and exits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6 import QtCore

import personlab_gui

#: Folder holding the ``personlab_gui`` package, put on the child's PYTHONPATH.
_PACKAGE_PARENT = str(Path(personlab_gui.__file__).resolve().parents[1])


def parse_line(line: str) -> dict | None:
    """The event a progress line carries, or None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


class TrainerProcess(QtCore.QObject):
    """One training process at a time."""

    event = QtCore.Signal(dict)
    line = QtCore.Signal(str)
    ended = QtCore.Signal(int, bool)     # exit code, crashed (killed or failed to start)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QtCore.QProcess | None = None
        self._buffer = b""
        self.cancel_file: Path | None = None

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, argv: list[str], cancel_file: Path) -> None:
        """Run ``argv`` (program first); ``cancel_file`` is removed now and on exit."""
        if self._process is not None:
            raise RuntimeError("a training process is already running")
        self.cancel_file = cancel_file
        cancel_file.unlink(missing_ok=True)
        process = QtCore.QProcess(self)
        process.setProcessChannelMode(QtCore.QProcess.ProcessChannelMode.MergedChannels)
        process.setProcessEnvironment(_environment())
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process, self._buffer = process, b""
        process.start(argv[0], argv[1:])

    def stop(self) -> None:
        """Ask the trainer to save and stop (it checks before every step)."""
        if self._process is not None and self.cancel_file is not None:
            self.cancel_file.touch()

    def kill(self) -> None:
        """End the process now (no state saved beyond its last checkpoint)."""
        if self._process is not None:
            self._process.kill()

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Stop gracefully and wait; kill if it takes longer (call when the app closes)."""
        process = self._process
        if process is None:
            return
        self.stop()
        if not process.waitForFinished(timeout_ms):
            process.kill()
            process.waitForFinished(2000)

    def _read(self) -> None:
        self._buffer += self._process.readAllStandardOutput().data()
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._emit(raw.decode("utf-8", "replace").rstrip())

    def _emit(self, text: str) -> None:
        if not text:
            return
        event = parse_line(text)
        if event is None:
            self.line.emit(text)
        else:
            self.event.emit(event)

    def _finished(self, code: int, status: QtCore.QProcess.ExitStatus) -> None:
        self._read()
        self._emit(self._buffer.decode("utf-8", "replace").rstrip())
        self._end(code, status == QtCore.QProcess.ExitStatus.CrashExit)

    def _error(self, error: QtCore.QProcess.ProcessError) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self.line.emit(f"the training process could not start ({self._process.errorString()})")
            self._end(-1, True)

    def _end(self, code: int, crashed: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.deleteLater()
        if self.cancel_file is not None:
            self.cancel_file.unlink(missing_ok=True)
        self.ended.emit(code, crashed)


def _environment() -> QtCore.QProcessEnvironment:
    """This process's environment, unbuffered, with the package importable."""
    env = QtCore.QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    path = os.environ.get("PYTHONPATH")
    env.insert("PYTHONPATH", _PACKAGE_PARENT + (os.pathsep + path if path else ""))
    return env
