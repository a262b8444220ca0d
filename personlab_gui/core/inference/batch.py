"""Running the engine over many images: per-file errors, progress reporting, clean interrupt.

Used by the CLI (``infer``, ``eval``) and by anything else that processes a folder: a bad
file, or an image that runs out of memory, gives that file a one-line error and the batch
goes on; Ctrl-C stops after the current image, keeping what finished.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .engine import Engine, InferenceSettings
from ..errors import InputError
from ..data.image_io import load_image
from ..decoding.result import InferenceResult


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


#: Threads that read images ahead of the network.
LOADERS = 2
#: Most decoding threads when the network runs on an accelerator.
MAX_DECODERS = 8


def decode_threads(engine: Engine) -> int:
    """Images decoded at once: one when the network shares the CPU, else one per spare core
    (``MAX_DECODERS`` at most): on a GPU, decoding is the slow stage."""
    if engine.device.type == "cpu":
        return 1
    return max(1, min(MAX_DECODERS, (os.cpu_count() or 2) - 1))


def run_batch(engine: Engine, paths: Iterable[Path], settings: InferenceSettings,
              on_done: Callable[[int, BatchItem], None] | None = None,
              batch: int = 1, loaders: int = LOADERS, decoders: int | None = None) -> Iterator[BatchItem]:
    """Yield a ``BatchItem`` per path, in order; bad files carry ``error`` instead of a result.

    Pipelined: ``loaders`` threads read images ahead, the network takes ``batch`` images at
    a time, and ``decoders`` threads (default ``decode_threads``) decode the previous images
    meanwhile. ``on_done`` is called as each item is yielded; stopping the iteration
    (Ctrl-C) drops what is in flight.
    """
    paths = list(paths)
    reported = 0
    decoders = decoders or decode_threads(engine)
    in_flight = max(batch, decoders)

    def report(slots: deque, keep: int) -> Iterator[BatchItem]:
        nonlocal reported
        while len(slots) > keep:
            item = _finish(*slots.popleft())
            reported += 1
            if on_done is not None:
                on_done(reported, item)
            yield item

    with _Pool(loaders) as load_pool, _Pool(decoders) as decode_pool:
        loads = deque(load_pool.submit(load_image, path) for path in paths[:_lookahead(in_flight, loaders)])
        pending: deque[tuple[Path, Future | BatchItem]] = deque()
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            images = [_take(loads.popleft(), path) for path in chunk]
            for path in paths[start + len(loads) + len(chunk):][:len(chunk)]:
                loads.append(load_pool.submit(load_image, path))
            try:
                pending += _submit(engine, settings, decode_pool, chunk, images)
            except Exception:   # a failure stops the run: what finished before it still counts
                yield from report(pending, 0)
                raise
            yield from report(pending, in_flight if start + batch < len(paths) else 0)


class _Pool(ThreadPoolExecutor):
    """A thread pool whose exit (also on Ctrl-C) drops the work not started yet."""

    def __exit__(self, *exc) -> bool:
        self.shutdown(wait=True, cancel_futures=True)
        return False


def _lookahead(batch: int, loaders: int) -> int:
    return batch + max(batch, loaders)


def _take(future: Future, path: Path) -> np.ndarray | BatchItem:
    """The loaded image, or the item of its error."""
    try:
        return future.result()
    except InputError as exc:
        return BatchItem(path, error=str(exc))


def _submit(engine: Engine, settings: InferenceSettings, pool: ThreadPoolExecutor,
            paths: list[Path], images: list) -> list[tuple[Path, Future | BatchItem]]:
    """Forward the loaded images together, then queue their decoding on ``pool``."""
    ok = [i for i, image in enumerate(images) if not isinstance(image, BatchItem)]
    slots: list[Future | BatchItem] = list(images)
    try:
        maps = engine.forward_batch([images[i] for i in ok], settings) if ok else []
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        return [(path, slot if isinstance(slot, BatchItem) else _out_of_memory_item(path))
                for path, slot in zip(paths, slots)]
    for i, fields in zip(ok, maps):
        slots[i] = pool.submit(engine.decode, fields, settings)
    return list(zip(paths, slots))


def _finish(path: Path, slot: Future | BatchItem) -> BatchItem:
    if isinstance(slot, BatchItem):
        return slot
    try:
        return BatchItem(path, result=slot.result())
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        return _out_of_memory_item(path)


def _out_of_memory_item(path: Path) -> BatchItem:
    return BatchItem(path, error=f"{path}: out of memory (lower --size or --scales)")
