"""Work off the GUI thread: a cancellable ``Task`` (QRunnable) reporting through signals.

A task wraps one function ``fn(task) -> value``; the function calls ``task.report(...)``
between stages, which raises ``Cancelled`` once ``cancel()`` was called, so a stale job
stops at the next stage boundary. Errors arrive as one-line messages.
"""

from __future__ import annotations

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
    """Signals of a ``Task`` (QRunnable is not a QObject); delivered on the GUI thread."""

    progress = QtCore.Signal(int, int, str)   # stage done, stages total, text
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()


class Task(QtCore.QRunnable):
    """One cancellable unit of background work."""

    def __init__(self, fn: Callable[["Task"], Any]) -> None:
        super().__init__()   # auto-deleted by the pool after run(): only Python state is used after
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


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""
