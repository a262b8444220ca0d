"""Numba kernels with one declared signature each, and their one-time preparation.

Every numba kernel of the inference pipeline is declared with ``kernel(signature, *groups)``:
a lazily compiled, disk-cached ``njit`` dispatcher and the ONE argument signature its
Python caller uses (C-contiguous arrays, int64 and float64 scalars), so nothing compiles
twice. The first run on a machine compiles the kernels (seconds; numba keeps the machine
code in its cache), later runs load them. ``prepare`` does that ahead of time for the
groups a decoder and model need, with progress when something really compiles.

Kernels release the GIL (``nogil``), so several images decode at once in threads.
Kernels allocate nothing and call no numpy array functions (their callers allocate the
outputs; scalars use ``math``): each numpy function inside a kernel compiles an
implementation of its own, which about doubled the cold start.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable

import numpy as np
from numba import njit
from numba.core import event, sigutils
from numba.core.dispatcher import Dispatcher

#: Kernel groups besides one per decoder and one per mask assignment rule (named as in
#: ``InferenceSettings``): field fusion and Hough maps (every decoder), what every mask rule
#: needs, and the extra maps the viewer shows.
FIELDS, MASKS, VIEWER = "fields", "masks", "viewer"
#: The modules that declare kernels (imported by ``kernels``).
_MODULES = ("fields", "hough", "greedy", "posenet", "refine", "segment")
#: What the command line tells the user while kernels compile.
PREPARING = "preparing the decoder (first run, once)"

Progress = Callable[[int, int], None]
_KERNELS: dict[str, list[tuple[Dispatcher, tuple]]] = {}


def kernel(signature: str, *groups: str, **options) -> Callable[[Callable], Dispatcher]:
    """Decorator: a cached numba kernel always called with argument types ``signature``
    (numba syntax, e.g. ``"float32[:, ::1], int64"``), prepared with ``groups``."""
    args, _ = sigutils.normalize_signature(f"({signature},)")

    def declare(fn: Callable) -> Dispatcher:
        dispatcher = njit(cache=True, nogil=True, **options)(fn)
        for group in groups:
            _KERNELS.setdefault(group, []).append((dispatcher, args))
        return dispatcher
    return declare


def f32(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous float32 array, as kernels take it (no copy when it is one)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def kernels(groups: Iterable[str]) -> list[tuple[Dispatcher, tuple]]:
    """The (dispatcher, argument types) of every kernel in ``groups``, each once."""
    found: dict[Dispatcher, tuple] = {}
    for module in _MODULES:
        importlib.import_module(f"{__package__}.{module}")
    for group in groups:
        found.update(_KERNELS.get(group, ()))
    return list(found.items())


def ready(groups: Iterable[str]) -> bool:
    """Whether every kernel of ``groups`` is compiled or loaded in this process."""
    return all(args in dispatcher.overloads for dispatcher, args in kernels(groups))


class _Progress(event.Listener):
    """Reports (kernels done, total) from the first real compilation of one of ``kernels``
    on: before it starts and after every kernel from then on (nothing when all are cached)."""

    def __init__(self, dispatchers: set[Dispatcher], total: int, report: Progress) -> None:
        self.dispatchers, self.total, self.report = dispatchers, total, report
        self.done, self.compiling = 0, False

    def on_start(self, ev: event.Event) -> None:
        if not self.compiling and ev.data["dispatcher"] in self.dispatchers:
            self.compiling = True
            self.report(self.done, self.total)

    def on_end(self, ev: event.Event) -> None:
        pass

    def kernel_done(self) -> None:
        self.done += 1
        if self.compiling:
            self.report(self.done, self.total)


def print_progress(done: int, total: int) -> None:
    """``prepare``'s progress as one self-overwriting line on stderr, ended at the last kernel."""
    sys.stderr.write(f"\r{PREPARING}: {done}/{total}" + ("\n" if done == total else ""))
    sys.stderr.flush()


def prepare(groups: Iterable[str], progress: Progress | None = None) -> None:
    """Compile (or load from numba's cache) every kernel of ``groups``;
    ``progress(done, total)`` is called as ``_Progress`` describes."""
    todo = kernels(groups)
    listener = _Progress({d for d, _ in todo}, len(todo), progress or (lambda done, total: None))
    with event.install_listener("numba:compile", listener):
        for dispatcher, args in todo:
            dispatcher.compile(args)
            listener.kernel_done()
