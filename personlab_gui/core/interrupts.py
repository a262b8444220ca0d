"""Stopping signals for long commands: the first SIGINT or SIGTERM stops the work, none
cuts short the saving of what finished.

Within ``stop_handlers()``, the first SIGINT raises ``KeyboardInterrupt`` and the
first SIGTERM ``Terminated`` (a ``KeyboardInterrupt``, so every place that stops cleanly on
Ctrl-C does the same on SIGTERM); later signals (a second Ctrl-C 20 ms after the first)
are ignored (SIG_IGN, so also during the interpreter's shutdown), as the process is
already stopping and saving. Inside
``deferred_interrupts()`` (writing a result file) a first signal is held and raised when
the block ends.
"""

from __future__ import annotations

import ctypes
import platform
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


class _State:
    stopping = False            # a stop signal was delivered (or is held)
    deferring = 0               # depth of deferred_interrupts blocks
    held: int | None = None     # the first signal, received while deferring


def _interrupt_for(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _on_signal(signum: int, frame) -> None:
    if _State.stopping:
        return
    _State.stopping = True
    for other in _SIGNALS:  # ignored from now on, also while the interpreter shuts down
        signal.signal(other, signal.SIG_IGN)
    if _State.deferring:
        _State.held = signum
        return
    raise _interrupt_for(signum)


@contextmanager
def stop_handlers() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as described above within the block (main thread only;
    elsewhere a no-op). The previous handlers come back afterwards, unless a stop signal
    came: then both stay ignored until the process ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.stopping, _State.held = False, None
    previous = {signum: signal.signal(signum, _on_signal) for signum in _SIGNALS}
    try:
        yield
    finally:
        if not _State.stopping:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block to its end; a stop signal received meanwhile is raised afterwards.

    Effective within ``stop_handlers()`` (otherwise the default handlers apply).
    """
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if not _State.deferring and _State.held is not None:
        signum, _State.held = _State.held, None
        raise _interrupt_for(signum)


def forget_unhandled_interrupt() -> None:
    """Let a caught interrupt end the process with its exit code, not by SIGINT.

    CPython marks an interrupt "unhandled" when it stops code that an extension module runs
    through ``PyRun_*`` (as happens while torch or numba import), even when the program
    catches it later, and then kills itself with SIGINT at exit (status -2 instead of 130).
    Any successful ``PyRun_*`` call clears that mark.
    """
    if platform.python_implementation() == "CPython":
        ctypes.pythonapi.PyRun_SimpleString(b"pass")
