"""Running the engine over many images: per-file errors, progress reporting, clean interrupt.

Used by the CLI (``infer``, ``eval``) and by anything else that processes a folder: a bad
file, or an image that runs out of memory, gives that file a one-line error and the batch
goes on; Ctrl-C stops after the current image, keeping what finished.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine, InferenceSettings
from .errors import InputError
from .image_io import load_image
from .result import InferenceResult


@dataclass
class BatchItem:
    """One processed file: its result, or the one-line error that stopped it."""

    path: Path
    result: InferenceResult | None = None
    error: str | None = None


class ProgressLine:
    """A single self-overwriting progress line on stderr: count, rate and ETA."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.start = total, time.perf_counter()
        self.stream = stream or sys.stderr

    def update(self, done: int, label: str) -> None:
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        label = label.encode("utf-8", "backslashreplace").decode("utf-8")  # non-UTF-8 file names
        self.stream.write(f"\r[{done}/{self.total}] {rate:.2f} img/s ETA {eta:4.0f}s {label[:60]:<60}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's CPU/GPU allocation failures (RuntimeError subclasses)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def run_batch(engine: Engine, paths: Iterable[Path], settings: InferenceSettings,
              on_done: Callable[[int, BatchItem], None] | None = None) -> Iterator[BatchItem]:
    """Yield a ``BatchItem`` per path, in order; bad files carry ``error`` instead of a result."""
    for index, path in enumerate(paths):
        try:
            item = BatchItem(path, result=engine.run(load_image(path), settings))
        except InputError as exc:
            item = BatchItem(path, error=str(exc))
        except (MemoryError, RuntimeError) as exc:
            if not out_of_memory(exc):
                raise
            item = BatchItem(path, error=f"{path}: out of memory (lower --size or --scales)")
        if on_done is not None:
            on_done(index + 1, item)
        yield item
