"""Workaround for a PySide6 binding bug that would crash the viewer on Python < 3.12.

PySide6-Essentials 6.12.0 (abi3 wheels) returns ``None`` from every ``void`` Qt method
without taking a reference. Python 3.12+ never frees ``None`` (it is immortal), but on
3.11 each call drops ``None``'s reference count by one until Python aborts with "Fatal
Python error: none_dealloc" — within seconds of painting or ``processEvents``.
``protect_none()`` detects the bug with a few harmless calls and, only if it is present,
raises ``None``'s count far beyond what any session can consume (never reaching zero is
all immortality means).
"""

from __future__ import annotations

import ctypes
import sys

from PySide6 import QtCore

_PROBE_CALLS = 64
_HEADROOM = 1 << 56


def void_calls_drop_none() -> bool:
    """Whether calling a void Qt method decrements ``None``'s reference count."""
    probe = QtCore.QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")   # a void method
    return sys.getrefcount(None) <= before - _PROBE_CALLS // 2


def protect_none() -> bool:
    """Apply the workaround where needed; returns whether it was applied."""
    if sys.version_info >= (3, 12) or not void_calls_drop_none():
        return False
    if sys.getrefcount(None) < _HEADROOM // 2:   # not yet applied
        ctypes.c_ssize_t.from_address(id(None)).value += _HEADROOM
    return True
