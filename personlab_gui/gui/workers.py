"""Work off the GUI thread: a cancellable ``Task`` reporting through signals, run by a
``SerialExecutor`` (one Python worker thread).

A task wraps one function ``fn(task) -> value``; the function calls ``task.report(...)``
between stages, which raises ``Cancelled`` once ``cancel()`` was called, so a stale job
stops at the next stage boundary. Errors arrive as one-line messages.

Tasks run on plain Python threads, not a ``QThreadPool``: the pool holds its internal lock
while it finishes a runnable, and releasing a Python-owned runnable needs the GIL, which the
GUI thread may hold while it waits for that same lock (a hang seen in CI).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from ..core.errors import InputError
from ..core.model import CheckpointError

_log = logging.getLogger(__name__)
#: Exceptions whose message is already a one-line user-facing "<what>: <problem>".
USER_ERRORS = (InputError, CheckpointError, ValueError)


class Cancelled(Exception):
    """Raised inside a task when it was cancelled."""


class TaskSignals(QtCore.QObject):
    """Signals of a ``Task``, emitted on the worker thread and delivered on the GUI thread."""

    progress = QtCore.Signal(int, int, str)   # stage done, stages total, text
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()


class Task:
    """One cancellable unit of background work."""

    def __init__(self, fn: Callable[["Task"], Any]) -> None:
        self.signals = TaskSignals()
        self._fn = fn
        self._cancelled = False

    def release(self) -> None:
        """Drop the signals and every slot connected to them (call once the outcome is handled)."""
        self.signals.deleteLater()

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled

    def report(self, stage: int, total: int, text: str, cancellable: bool = True) -> None:
        """Announce a stage; raises ``Cancelled`` here if the task was cancelled (and may stop)."""
        if cancellable and self._cancelled:
            raise Cancelled
        self.signals.progress.emit(stage, total, text)

    def run(self) -> None:
        try:
            value = self._fn(self)
        except Cancelled:
            self.signals.cancelled.emit()
        except USER_ERRORS as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # report, never crash the GUI; keep the traceback in the log
            _log.exception("background task failed")
            self.signals.failed.emit(f"{type(exc).__name__}: {one_line(str(exc))}")
        else:
            self.signals.done.emit(value)


class SerialExecutor:
    """Runs tasks one at a time, in submission order, on one Python worker thread."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._futures: list[concurrent.futures.Future] = []

    def start(self, task: Task) -> None:
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(self._executor.submit(task.run))

    def wait_for_done(self, timeout_ms: int) -> bool:
        """Wait for the submitted tasks; whether they all finished in time."""
        _, pending = concurrent.futures.wait(self._futures, timeout=timeout_ms / 1000)
        return not pending


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""
