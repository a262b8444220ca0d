"""Inference off the GUI thread, with caches so nothing is computed twice.

``InferenceService`` follows the image the user is looking at: it decodes the file on an
I/O thread, then runs the engine on a single inference thread. Field maps are cached per
(image path, model, device, ``settings.forward_key()``) and results per full settings,
so revisiting an image is instant and a decoder-only change re-runs only ``decode``.
Switching images cancels stale work at its next stage boundary; the GUI never waits.
The numba kernels a model and the settings need are prepared on a thread of their own as
soon as the engine is loaded, alongside its first network pass; on a machine's first run
that compiles them (seconds), and the progress names it.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from ..core.inference.engine import Engine, FieldMaps, InferenceSettings
from ..core.data.image_io import load_image
from ..core.decoding.jit import prepare, ready
from ..core.decoding.result import InferenceResult
from .cache import LruCache
from .workers import SerialExecutor, Task

#: First element of the compute-job key of an engine load.
_ENGINE = "<engine>"
#: The progress text of the kernels' one-time compilation (short: it fits the status bar).
PREPARING = "preparing decoder (once)"


class InferenceService(QtCore.QObject):
    """Loads images, engines and results in the background; emits them on the GUI thread."""

    imageLoaded = QtCore.Signal(str, object)     # path, RGB uint8 array
    imageFailed = QtCore.Signal(str, str)        # path, one-line message
    resultReady = QtCore.Signal(str, object)     # path, InferenceResult
    inferenceFailed = QtCore.Signal(str, str)    # path, one-line message
    engineReady = QtCore.Signal(object, str, str, str)   # Engine, the model, device and backend asked for
    engineFailed = QtCore.Signal(str)            # one-line message
    progress = QtCore.Signal(int, int, str)      # stage, stages, text
    busyChanged = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._compute = SerialExecutor()   # engine loading and inference, one at a time
        self._io = SerialExecutor()        # image decoding
        self._kernels = SerialExecutor()   # numba kernel preparation
        self.engine: Engine | None = None
        self.settings = InferenceSettings()
        self._images: LruCache[np.ndarray] = LruCache(8)
        self._maps: LruCache[FieldMaps] = LruCache(12)
        self._results: LruCache[InferenceResult] = LruCache(64)
        self._current: str | None = None
        self._halted = False
        self._job: Task | None = None
        self._job_key: Hashable = None
        self._job_progress: tuple[int, int, str] | None = None   # shown once kernels are ready
        self._preparing: Task | None = None
        self._busy = False
        self._loads: dict[str, Task] = {}
        self._failed: set[tuple] = set()    # inference keys that failed: not retried by themselves

    # -- requests ----------------------------------------------------------------------
    def load_model(self, model: str, device: str, backend: str = "float") -> None:
        """Load ``model`` on ``device`` with ``backend``; the current engine keeps serving until
        it succeeds."""
        if self._job is not None:
            self._job.cancel()
        task = Task(lambda t: Engine(model, device, backend))
        task.signals.done.connect(lambda engine: self._engine_loaded(engine, model, device, backend))
        task.signals.failed.connect(self.engineFailed)
        self._start(task, key=(_ENGINE, model, device, backend))

    def set_settings(self, settings: InferenceSettings) -> None:
        """Use ``settings`` from now on (only what changed is recomputed)."""
        self.settings = settings
        self._halted = False
        self._prepare_kernels()
        self._schedule()

    def show(self, path: str | None) -> None:
        """Follow image ``path``: emit its image and result as soon as they exist."""
        self._current = path
        self._halted = False
        for other, task in self._loads.items():
            if other != path:
                task.cancel()
        if path is None:
            return
        image = self._images.get(path)
        if image is None:
            self._load_image(path)
        else:
            self.imageLoaded.emit(path, image)
        self._schedule()

    def cancel(self) -> None:
        """Stop working on the current image until it is shown again or settings change."""
        self._halted = True
        if self._job is not None:
            self._job.cancel()

    def rerun(self) -> None:
        """Resume after ``cancel``, or try a failed image again."""
        self._halted = False
        self._failed.clear()
        self._schedule()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel everything and wait for the threads (call before the app quits)."""
        self.cancel()
        for task in self._loads.values():
            task.cancel()
        self._io.wait_for_done(timeout_ms)
        self._compute.wait_for_done(timeout_ms)
        self._kernels.wait_for_done(timeout_ms)

    @property
    def busy(self) -> bool:
        return self._job is not None or self._preparing is not None

    # -- images ------------------------------------------------------------------------
    def _load_image(self, path: str) -> None:
        pending = self._loads.get(path)
        if pending is not None and not pending.is_cancelled:
            return

        def work(task: Task) -> np.ndarray:
            task.report(0, 1, f"loading {path}")
            return load_image(path)

        task = Task(work)
        task.signals.done.connect(lambda image, p=path, t=task: self._image_loaded(p, t, image))
        task.signals.failed.connect(lambda message, p=path, t=task: self._image_failed(p, t, message))
        task.signals.cancelled.connect(lambda p=path, t=task: self._load_ended(p, t))
        self._loads[path] = task
        self._io.start(task)

    def _load_ended(self, path: str, task: Task) -> None:
        if self._loads.get(path) is task:   # a newer load of the same file may have replaced it
            del self._loads[path]
        task.release()

    def _image_loaded(self, path: str, task: Task, image: np.ndarray) -> None:
        self._load_ended(path, task)
        self._images.put(path, image)
        if path == self._current:
            self.imageLoaded.emit(path, image)
            self._schedule()

    def _image_failed(self, path: str, task: Task, message: str) -> None:
        self._load_ended(path, task)
        self.imageFailed.emit(path, message)

    # -- inference ---------------------------------------------------------------------
    def _engine_key(self) -> tuple[str, str]:
        return str(self.engine.model_path), f"{self.engine.device_name}/{self.engine.backend}"

    def _engine_loaded(self, engine: Engine, model: str, device: str, backend: str) -> None:
        self.engine = engine
        self.engineReady.emit(engine, model, device, backend)
        self._prepare_kernels()

    # -- numba kernels -------------------------------------------------------------------
    def _prepare_kernels(self) -> None:
        """Compile or load the kernels the engine needs with the settings, unless they are
        ready or being prepared (numba's lock serialises this with a decode that needs them)."""
        engine, settings = self.engine, self.settings
        if engine is None or self._preparing is not None:
            return
        groups = engine.kernel_groups(settings, viewer=True)
        if ready(groups):
            return

        def work(task: Task) -> None:
            prepare(groups, lambda done, total: task.report(
                done, total, f"{PREPARING} {done}/{total}", cancellable=False))

        task = Task(work)
        task.signals.progress.connect(self.progress)
        for signal in (task.signals.done, task.signals.failed):   # a failure recurs in the inference
            signal.connect(lambda *_, t=task, g=groups: self._kernels_ended(t, g))
        self._preparing = task
        self._update_busy()
        self._kernels.start(task)

    def _kernels_ended(self, task: Task, groups: tuple[str, ...]) -> None:
        task.release()
        self._preparing = None
        if self._job_progress is not None:
            self.progress.emit(*self._job_progress)
        self._update_busy()
        if self.engine.kernel_groups(self.settings, viewer=True) != groups:   # changed meanwhile
            self._prepare_kernels()

    def _job_progressed(self, stage: int, stages: int, text: str) -> None:
        """Show a job's stage, unless kernel preparation (what the job waits for) is shown."""
        self._job_progress = stage, stages, text
        if self._preparing is None:
            self.progress.emit(stage, stages, text)

    def _update_busy(self) -> None:
        if self.busy != self._busy:
            self._busy = self.busy
            self.busyChanged.emit(self._busy)

    def _schedule(self) -> None:
        """Start whatever the current image still needs (at most one job at a time)."""
        if self._halted or self._current is None or self.engine is None:
            return
        image = self._images.get(self._current)
        if image is None:
            return
        path, settings = self._current, self.settings
        key = (path, *self._engine_key(), settings)
        result = self._results.get(key)
        stale = self._job is not None and self._job_key != key and self._job_key[0] != _ENGINE
        if stale:
            self._job.cancel()
        if result is not None:
            self.resultReady.emit(path, result)
        elif self._job is None and key not in self._failed:
            self._start_inference(key, image)

    def _start_inference(self, key: tuple, image: np.ndarray) -> None:
        path, model, device, settings = key
        engine, maps = self.engine, self._maps.get((path, model, device, settings.forward_key()))
        name = Path(path).name

        def work(task: Task) -> tuple[FieldMaps, InferenceResult]:
            fields = maps
            if fields is None:
                task.report(0, 2, f"network: {name}")
                fields = engine.forward(image, settings)
            task.report(1, 2, f"decoding: {name}", cancellable=False)
            result = engine.decode(fields, settings)
            _ = result.mid_refined, result.trace   # lazy properties: compute them here, off the GUI thread
            return fields, result

        task = Task(work)
        task.signals.done.connect(lambda value, k=key: self._inference_done(k, *value))
        task.signals.failed.connect(lambda message, k=key: self._inference_failed(k, message))
        self._start(task, key)

    def _inference_done(self, key: tuple, maps: FieldMaps, result: InferenceResult) -> None:
        path, model, device, settings = key
        self._maps.put((path, model, device, settings.forward_key()), maps)
        self._results.put(key, result)

    def _inference_failed(self, key: tuple, message: str) -> None:
        self._failed.add(key)
        self.inferenceFailed.emit(key[0], message)

    # -- the compute thread ------------------------------------------------------------
    def _start(self, task: Task, key: Hashable) -> None:
        """Queue ``task`` on the compute thread; any job running is superseded."""
        if self._job is not None:
            self._job.cancel()
        task.signals.progress.connect(self._job_progressed)
        for signal in (task.signals.done, task.signals.failed, task.signals.cancelled):
            signal.connect(lambda *_, t=task: self._finished(t))
        self._job, self._job_key = task, key
        self._update_busy()
        self._compute.start(task)

    def _finished(self, task: Task) -> None:
        task.release()
        if task is self._job:
            self._job, self._job_key, self._job_progress = None, None, None
            self._update_busy()
        self._schedule()
