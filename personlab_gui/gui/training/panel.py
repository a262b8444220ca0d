"""The Training tab: the settings form, Start / Stop / Resume, live curves and log,
"Use this model", and "Copy command" for the same run on one machine or a cluster.

Data preparation (exporting the project's reviewed images) runs on a worker thread, the
training itself in a child process (``TrainerProcess``); the tab only listens, so it
stays responsive and a crash there is reported here as a message, never a dialog.
Models go to the zoo as ``NAME.pt`` beside ``NAME.pt.resume`` (the resumable state) and
``NAME.run/`` (the exported data and the cancel flag).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.errors import InputError
from ...core.model.zoo import zoo_dir
from ...core.training import state_path
from ..widgets import VerticalScroll
from ..workers import SerialExecutor, Task
from .curves import TrainingCurves
from .datasets import DataSummary, PreparedData, describe, prepare
from .form import TrainingForm
from .process import TrainerProcess
from .run import (ACTIVE, FAILED, FINISHED, IDLE, PREPARING, RUNNING, STOPPED, STOPPING, TrainingRun,
                  event_text, metric_text)
from .spec import TrainingSpec, process_argv, resume_args, shell_command

COUNTS_DEBOUNCE_MS = 400
LOG_LINES = 5000
LEFT_WIDTH = 470     # the settings column's first width (px); it scrolls and shrinks to its content
_ERROR_STYLE, _INFO_STYLE = "color: #e05050", ""


def run_paths(name: str) -> tuple[Path, Path]:
    """(checkpoint, run folder) of a model called ``name`` in the zoo."""
    return zoo_dir() / f"{name}.pt", zoo_dir() / f"{name}.run"


class TrainingPanel(QtWidgets.QWidget):
    """Emits ``useModel`` (zoo name or path) and ``modelSaved`` (checkpoint path)."""

    useModel = QtCore.Signal(str)
    modelSaved = QtCore.Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.run = TrainingRun(self)
        self.process = TrainerProcess(self)
        self.form = TrainingForm()
        self.curves = TrainingCurves(self.run)
        self.out: Path | None = None          # the checkpoint of the current (or last) run
        self._last_line = ""
        self._counts_generation = 0
        self._pool = SerialExecutor()
        self._counts_timer = QtCore.QTimer(self, singleShot=True, interval=COUNTS_DEBOUNCE_MS)
        self._make_widgets()
        self._layout()
        self._connect()
        self._update_buttons()

    # -- construction --------------------------------------------------------------------------
    def _make_widgets(self) -> None:
        self.start_button = QtWidgets.QPushButton("Start")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("save the state and a usable model, then stop (again: kill)")
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.use_button = QtWidgets.QPushButton("Use this model")
        self.use_button.setToolTip("load the new model in the viewer and run the current image again")
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.summary = QtWidgets.QLabel()
        self.val_info = QtWidgets.QLabel("Validation set: shown when a run starts")
        self.val_info.setWordWrap(True)
        self.val_info.setToolTip("the images and people the validation AP curves are measured on")
        self.log = QtWidgets.QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.procs = QtWidgets.QSpinBox(minimum=1, maximum=64, value=1)
        self.procs.setToolTip("processes (GPUs) per machine: torchrun --nproc_per_node")
        self.nodes = QtWidgets.QSpinBox(minimum=1, maximum=1024, value=1)
        self.nodes.setToolTip("machines: torchrun --nnodes")
        self.copy_button = QtWidgets.QPushButton("Copy command")
        self.command = QtWidgets.QPlainTextEdit(readOnly=True)
        self.command.setMaximumHeight(70)
        self.command.setPlaceholderText("the CLI of this run appears here")

    def _scale_out_group(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Scale out")
        layout = QtWidgets.QFormLayout(box)
        layout.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
        layout.addRow("Processes per machine", self.procs)
        layout.addRow("Machines", self.nodes)
        layout.addRow(self.copy_button)
        layout.addRow(self.command)
        return box

    def _layout(self) -> None:
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.addWidget(self.form)
        left_layout.addWidget(self._scale_out_group())
        scroll = VerticalScroll(left)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button, self.use_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.message)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.val_info)
        views = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        views.addWidget(self.curves)
        views.addWidget(self.log)
        views.setSizes([500, 160])
        right_layout.addWidget(views, 1)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([LEFT_WIDTH + 60, 1000])
        QtWidgets.QVBoxLayout(self).addWidget(splitter)

    def _connect(self) -> None:
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.use_button.clicked.connect(self.use_model)
        self.copy_button.clicked.connect(self.copy_command)
        self.form.dataChanged.connect(self._counts_timer.start)
        self.form.name.textChanged.connect(self._update_buttons)
        self._counts_timer.timeout.connect(self.refresh_counts)
        self.process.event.connect(self._on_event)
        self.process.line.connect(self._on_line)
        self.process.ended.connect(self._on_ended)
        self.run.statusChanged.connect(self._status_changed)
        self.run.progressed.connect(self._show_progress)

    # -- actions ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Export the data (worker thread), then start a fresh run in a child process."""
        spec = self._checked_spec()
        if spec is None:
            return
        out, run_dir = run_paths(spec.name)
        self.out = out
        self.run.begin()
        self.show_message(f"Preparing the data for {spec.name}…")
        self._append_log(f"--- new run: {out}")
        self._prepare(run_dir, lambda data: self._launch(spec, data, out))

    def stop(self) -> None:
        """Ask the trainer to save and stop; while it is stopping, kill it."""
        if self.run.status == PREPARING:
            self.run.set_status(IDLE)
            self.show_message("Start cancelled.")
        elif self.run.status == RUNNING:
            self.process.stop()
            self.run.set_status(STOPPING)
            self.show_message("Stopping: the trainer saves its state and a usable model…")
        elif self.run.status == STOPPING:
            self.run.fail("killed while stopping (Stop pressed again); the last saved checkpoint stays")
            self.process.kill()

    def resume(self) -> None:
        """Continue the stopped run from its resume state, with its stored settings."""
        out = self._resume_target()
        if out is None:
            return
        self.out = out
        self.run.resume()
        self.show_message(f"Resuming {out.stem} from {state_path(out).name}…")
        self._append_log(f"--- resume: {state_path(out)}")
        self._start_process(resume_args(state_path(out)), out)

    def use_model(self) -> None:
        """Load the run's model in the viewer (by zoo name when it is in the zoo)."""
        if self.out is not None and self.out.is_file():
            in_zoo = self.out.parent.resolve() == zoo_dir().resolve()
            self.useModel.emit(self.out.stem if in_zoo else str(self.out))

    def copy_command(self) -> None:
        """Export the data, then put the CLI of the form's run on the clipboard."""
        spec = self._checked_spec(allow_existing=True)
        if spec is None:
            return
        out, run_dir = run_paths(spec.name)
        self._prepare(run_dir, lambda data: self._show_command(
            dataclasses.replace(spec, train=data.train, val=data.val), out))

    def shutdown(self) -> None:
        """Stop a running training (it saves) and wait for the threads; call before closing."""
        self.process.shutdown()
        self._pool.wait_for_done(10000)

    # -- data --------------------------------------------------------------------------------------
    def refresh_counts(self) -> None:
        """Count the images and people of the chosen sets (worker thread)."""
        self._counts_generation += 1
        generation, request = self._counts_generation, self.form.data_request()
        self.form.counts.setStyleSheet(_INFO_STYLE)
        self.form.counts.setText("counting…")
        self._submit(lambda task: describe(request),
                     lambda summary: self._show_counts(generation, summary),
                     lambda message: self._show_counts(generation, DataSummary("", message)))

    def _show_counts(self, generation: int, summary: DataSummary) -> None:
        """The sets' counts; in red with the reason when the run would be refused."""
        if generation == self._counts_generation:
            refused = f"Refused: {summary.refusal}" if summary.refusal else ""
            self.form.counts.setStyleSheet(_ERROR_STYLE if refused else _INFO_STYLE)
            self.form.counts.setText("\n".join(line for line in (summary.text, refused) if line))

    def _prepare(self, run_dir: Path, then: Callable[[PreparedData], None]) -> None:
        request = self.form.data_request()
        self._submit(lambda task: prepare(request, run_dir), then, self._prepare_failed)

    def _prepare_failed(self, message: str) -> None:
        self._append_log(f"error: {message}")
        if self.run.status == PREPARING:
            self.run.fail(message)
        else:
            self.show_error(message)

    def _submit(self, work, done: Callable, failed: Callable[[str], None]) -> None:
        """Run ``work`` off the GUI thread; its outcome is dropped if the tab is gone by then."""
        task = Task(work)
        task.signals.done.connect(lambda value: shiboken6.isValid(self) and done(value))
        task.signals.failed.connect(lambda message: shiboken6.isValid(self) and failed(message))
        for signal in (task.signals.done, task.signals.failed, task.signals.cancelled):
            signal.connect(lambda *_, t=task: t.release())
        self._pool.start(task)

    # -- the process -------------------------------------------------------------------------------
    def _launch(self, spec: TrainingSpec, data: PreparedData, out: Path) -> None:
        if self.run.status != PREPARING:          # stopped while the data was being prepared
            return
        spec = dataclasses.replace(spec, train=data.train, val=data.val)
        self._show_validation_set(data)
        self._show_command(spec, out, copy=False)
        self.show_message(f"Training {spec.name}…")
        self._start_process(spec.args(out), out)

    def _start_process(self, args: list[str], out: Path) -> None:
        run_dir = run_paths(out.stem)[1]
        run_dir.mkdir(parents=True, exist_ok=True)
        self._last_line = ""
        self.process.start(process_argv(args, run_dir / "cancel"), run_dir / "cancel")

    def _on_event(self, event: dict) -> None:
        self.run.apply(event)
        self._append_log(event_text(event))
        if event.get("event") == "saved":
            self.modelSaved.emit(event["path"])
            self.form.refresh_models()

    def _on_line(self, line: str) -> None:
        self._last_line = line
        self._append_log(line)

    def _on_ended(self, code: int, crashed: bool) -> None:
        if self.run.saved is None and not self.run.error:
            why = "was killed (out of memory?)" if crashed else f"failed (exit code {code})"
            self.run.fail(f"The training process {why}: {self._last_line or 'no output'}")
        self.run.ended()
        self._update_buttons()

    def _status_changed(self, status: str) -> None:
        self._update_buttons()
        if status in (FAILED, STOPPED, FINISHED):
            self._report_end()

    def _report_end(self) -> None:
        run, name = self.run, self.out.stem if self.out else ""
        if run.status == FAILED:
            self.show_error(f"Training stopped with an error: {run.error}")
        elif run.status == STOPPED:
            self.show_message(f"Stopped at step {run.step}/{run.max_steps}; {name} is saved and "
                              "usable. Resume continues where it stopped.")
        elif run.status == FINISHED:
            self.show_message(f"Finished: {name} saved to the model zoo. {self._figures_text()}")

    def _figures_text(self) -> str:
        h = self.run.history
        if not h.eval_steps:
            return ""
        last = {k: v[-1] for k, v in h.metrics.items()}
        start = f" (starting model: {metric_text(h.baseline)})" if h.baseline else ""
        return f"Validation: {metric_text(last)}{start}."

    # -- views --------------------------------------------------------------------------------------
    def _show_progress(self) -> None:
        self.progress.setMaximum(max(self.run.max_steps, 1))
        self.progress.setValue(self.run.step)
        self.summary.setText(self.run.summary())

    def _show_validation_set(self, data: PreparedData) -> None:
        """What the AP curves are measured on, beside them."""
        if data.val_counts is None:
            self.val_info.setText("No validation set: the AP curves stay empty.")
        else:
            self.val_info.setText(f"Validation set: {data.val_counts} ({data.val_origin})")

    def _show_command(self, spec: TrainingSpec, out: Path, copy: bool = True) -> None:
        text = shell_command(spec.args(out), self.procs.value(), self.nodes.value())
        self.command.setPlainText(text)
        if copy:
            QtGui.QGuiApplication.clipboard().setText(text)
            self.show_message("Command copied to the clipboard (the exported data is in "
                              f"{run_paths(spec.name)[1]}).")

    def _update_buttons(self) -> None:
        active = self.run.status in ACTIVE or self.process.running
        self.start_button.setEnabled(not active)
        self.stop_button.setEnabled(active)
        self.stop_button.setText("Kill" if self.run.status == STOPPING else "Stop")
        self.resume_button.setEnabled(not active and self._resume_target() is not None)
        self.use_button.setEnabled(self.out is not None and self.out.is_file())
        self.form.setEnabled(not active)

    def _resume_target(self) -> Path | None:
        """The checkpoint whose run Resume continues: the current run's when it stopped or
        failed, else the named model's; None without a resume state."""
        if self.run.status == FINISHED:
            return None
        name = self.form.name.text().strip()
        out = self.out or (run_paths(name)[0] if name else None)
        return out if out is not None and state_path(out).is_file() else None

    def _checked_spec(self, allow_existing: bool = False) -> TrainingSpec | None:
        try:
            spec = self.form.spec()
            self.form.data_request().check()
        except (ValueError, InputError) as exc:
            self.show_error(str(exc))
            return None
        out = run_paths(spec.name)[0]
        if not allow_existing and out.exists() and out != self.out:
            self.show_error(f"A model named {spec.name} is already in the zoo: choose another name.")
            return None
        return spec

    def show_message(self, text: str) -> None:
        self.message.setStyleSheet(_INFO_STYLE)
        self.message.setText(text)

    def show_error(self, text: str) -> None:
        self.message.setStyleSheet(_ERROR_STYLE)
        self.message.setText(text)

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(line)
