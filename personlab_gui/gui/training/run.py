"""The training tab's model: one run's state and history, built from the child process's
progress events (``start``, ``step``, ``eval``, ``saved``, ``error``). Views listen to its
signals; it draws nothing and runs nothing. A resumed run continues the same history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from PySide6 import QtCore

#: Run states, in the order a run passes through them.
IDLE, PREPARING, RUNNING, STOPPING, STOPPED, FINISHED, FAILED = (
    "idle", "preparing", "running", "stopping", "stopped", "finished", "failed")
ACTIVE = (PREPARING, RUNNING, STOPPING)
#: The validation figures the tab shows, with their names.
METRIC_NAMES = {"keypoints/AP": "keypoint AP", "segm/AP": "mask AP"}


@dataclass
class History:
    """Everything the curves draw."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)   # "total" and per head
    lr: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)                 # images/s
    eval_steps: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # e.g. "keypoints/AP"
    baseline: dict[str, float] = field(default_factory=dict)        # the starting model's


class TrainingRun(QtCore.QObject):
    """State of the current run; ``apply`` feeds it one progress event."""

    statusChanged = QtCore.Signal(str)
    progressed = QtCore.Signal()          # a step or eval arrived: history and figures changed
    reset = QtCore.Signal()               # a new run: the history is empty

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.status = IDLE
        self.history = History()
        self.step = 0
        self.max_steps = 0
        self.last: dict = {}               # the latest "step" event
        self.error = ""
        self.saved: dict | None = None     # the latest "saved" event
        self._elapsed_before = 0.0         # seconds of earlier processes of this run
        self._elapsed = 0.0

    # -- lifecycle ------------------------------------------------------------------------
    def begin(self) -> None:
        """A new run: forget the previous one."""
        self.history, self.step, self.max_steps, self.last = History(), 0, 0, {}
        self.error, self.saved, self._elapsed_before, self._elapsed = "", None, 0.0, 0.0
        self.reset.emit()
        self.set_status(PREPARING)

    def resume(self) -> None:
        """The stopped (or failed) run goes on in a new process, with the same history."""
        self.error, self.saved = "", None
        self.set_status(RUNNING)

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)

    def fail(self, message: str) -> None:
        self.error = message
        self.set_status(FAILED)

    def ended(self) -> None:
        """The process is gone: the run stopped, finished or failed."""
        self._elapsed_before += self._elapsed
        self._elapsed = 0.0
        if self.status == FAILED:
            return
        if self.saved is None:
            self.fail(self.error or "the training process ended without saving a model")
        else:
            self.set_status(STOPPED if self.saved["cancelled"] else FINISHED)

    # -- events ---------------------------------------------------------------------------
    def apply(self, event: dict) -> None:
        handler = getattr(self, f"_on_{event.get('event')}", None)
        if handler is not None:
            handler(event)

    def _on_start(self, event: dict) -> None:
        self.step, self.max_steps = event["step"], event["max_steps"]
        self.history.baseline = self.history.baseline or dict(event.get("start_metrics") or {})
        self.saved = None
        if self.status != STOPPING:
            self.set_status(RUNNING)
        self.progressed.emit()

    def _on_step(self, event: dict) -> None:
        h = self.history
        self.step, self.max_steps, self.last = event["step"], event["max_steps"], event
        self._elapsed = event["elapsed_s"]
        h.steps.append(event["step"])
        for name, value in event["losses"].items():
            h.losses.setdefault(name, []).append(value)
        h.lr.append(event["lr"])
        h.rate.append(event["images_per_s"])
        self.progressed.emit()

    def _on_eval(self, event: dict) -> None:
        h = self.history
        if event.get("start"):
            h.baseline = dict(event["metrics"])
        else:
            h.eval_steps.append(event["step"])
            for name, value in event["metrics"].items():
                h.metrics.setdefault(name, []).append(value)
        self.progressed.emit()

    def _on_saved(self, event: dict) -> None:
        self.saved = event

    def _on_error(self, event: dict) -> None:
        self.fail(event["message"])

    # -- figures --------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds of training so far, over every process of this run."""
        return self._elapsed_before + self._elapsed

    def summary(self) -> str:
        """One line: step, loss, lr, images/s, elapsed and ETA."""
        if not self.last:
            return f"step {self.step}/{self.max_steps} · starting…" if self.max_steps else ""
        e = self.last
        return (f"step {self.step}/{self.max_steps} · loss {e['losses']['total']:.4f} · "
                f"lr {e['lr']:.2e} · {e['images_per_s']:.1f} img/s · "
                f"elapsed {_clock(self.elapsed)} · ETA {_clock(e['eta_s'])}")


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


def event_text(event: dict) -> str:
    """A progress event as a line of the tab's log."""
    kind = event.get("event")
    if kind == "start":
        return (f"training steps {event['step'] + 1}-{event['max_steps']} on {event['images']} images, "
                f"batch {event['batch_size']} x {event['world_size']} process(es), {event['device']}")
    if kind == "step":
        heads = " ".join(f"{k} {v:.4f}" for k, v in event["losses"].items() if k != "total")
        return (f"step {event['step']}/{event['max_steps']}  loss {event['losses']['total']:.4f} ({heads})  "
                f"lr {event['lr']:.2e}  {event['images_per_s']:.1f} img/s  ETA {_clock(event['eta_s'])}")
    if kind == "eval":
        where = "the starting model" if event.get("start") else f"step {event['step']}"
        return f"validation of {where}: {metric_text(event['metrics'])}"
    if kind == "saved":
        how = "stopped at" if event["cancelled"] else "finished at"
        return f"saved {event['path']} ({how} step {event['step']}/{event['max_steps']})"
    if kind == "error":
        return f"error: {event['message']}"
    return str(event)


def metric_text(metrics: dict[str, float]) -> str:
    """'keypoint AP 0.412 · mask AP 0.301' (the metrics present)."""
    parts = [f"{name} {metrics[key]:.3f}" for key, name in METRIC_NAMES.items() if key in metrics]
    return " · ".join(parts) or "no figures"
