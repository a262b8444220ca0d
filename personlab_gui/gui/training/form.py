"""The training tab's settings form: data (project, extra COCO sets, validation), what to
train (starting model, parts, heads), distillation (teachers, unlabeled images),
optimisation, and an advanced section (loss weights, workers, seed, checkpoints). It reads
back as a ``DataRequest`` and a ``TrainingSpec``; it runs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.training.losses import LossWeights
from ...core.model.zoo import DEFAULT_MODEL
from ...core.skeleton import ALL_HEADS
from .datasets import DataRequest
from .distillation import DistillationGroup
from .spec import DataSource, TrainingSpec
from .zoo_picker import refresh_model_picker

DEFAULTS = TrainingSpec(name="")
DEVICES = ("auto", "cpu", "cuda", "mps")
PARTS = {"heads only": "heads", "heads + last N backbone blocks": "heads+", "everything": "all"}
VAL_HELD_OUT, VAL_COCO = "held-out project images", "a COCO file"
COCO_FILTER = "COCO JSON (*.json)"


class Collapsible(QtWidgets.QWidget):
    """A titled section whose content shows only when expanded (collapsed at first)."""

    def __init__(self, title: str, content: QtWidgets.QWidget, parent=None) -> None:
        super().__init__(parent)
        self.toggle = QtWidgets.QToolButton(text=title, checkable=True)
        self.toggle.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.toggle.setStyleSheet("QToolButton { border: none; }")
        self.content = content
        content.setVisible(False)
        self.toggle.toggled.connect(self.set_expanded)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(content)

    def set_expanded(self, expanded: bool) -> None:
        self.toggle.setChecked(expanded)
        self.toggle.setArrowType(QtCore.Qt.ArrowType.DownArrow if expanded else QtCore.Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)


def _spin(low: int, high: int, value: int, step: int = 1, tip: str = "") -> QtWidgets.QSpinBox:
    box = QtWidgets.QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _double(low: float, high: float, value: float, decimals: int, step: float) -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _combo(items, current: str = "") -> QtWidgets.QComboBox:
    box = QtWidgets.QComboBox()
    box.addItems(list(items))
    if current:
        box.setCurrentText(current)
    return box


def _form(box: QtWidgets.QWidget) -> QtWidgets.QFormLayout:
    """A form on ``box`` whose long rows put the field under its label (a narrow column)."""
    form = QtWidgets.QFormLayout(box)
    form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def _row(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QtWidgets.QLineEdit) else 0)
    return row


class TrainingForm(QtWidgets.QWidget):
    """Emits ``dataChanged`` when the data choices change (counts need refreshing)."""

    dataChanged = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.extra_sources: list[DataSource] = []
        self._make_data_widgets()
        self._make_model_widgets()
        self._make_optimisation_widgets()
        self._make_advanced_widgets()
        self.distillation = DistillationGroup()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self._data_group())
        layout.addWidget(self._model_group())
        layout.addWidget(self.distillation)
        layout.addWidget(self._optimisation_group())
        layout.addWidget(Collapsible("Advanced: loss weights, workers, seed", self._advanced_box()))
        layout.addStretch(1)
        self._connect()
        self._validation_mode_changed()
        self._parts_changed()

    # -- widgets ---------------------------------------------------------------------------
    def _make_data_widgets(self) -> None:
        self.project = QtWidgets.QLineEdit(placeholderText="project file (.plab)")
        self.project_browse = QtWidgets.QPushButton("Browse…")
        self.sources = QtWidgets.QListWidget()
        self.sources.setMaximumHeight(60)
        self.add_source_button = QtWidgets.QPushButton("Add COCO…")
        self.remove_source_button = QtWidgets.QPushButton("Remove")
        self.val_mode = _combo((VAL_HELD_OUT, VAL_COCO))
        self.val_fraction = _double(0.0, 0.5, 0.2, 2, 0.05)
        self.val_fraction.setToolTip("share of the reviewed images held out for validation, among the human-"
                                     "verified ones (every person accepted, edited or added); 0: none")
        self.val_json = QtWidgets.QLineEdit(placeholderText="validation COCO JSON")
        self.val_json_browse = QtWidgets.QPushButton("…")
        self.val_images = QtWidgets.QLineEdit(placeholderText="its images folder")
        self.val_images_browse = QtWidgets.QPushButton("…")
        self.counts = QtWidgets.QLabel("")
        self.counts.setWordWrap(True)

    def _make_model_widgets(self) -> None:
        self.name = QtWidgets.QLineEdit(default_name("default"))
        self.name.setToolTip("the new model is saved as model_zoo/NAME.pt")
        self.init_model = _combo(("default",))
        self.init_model.setEditable(True)
        self.init_model.setToolTip("a zoo model, or the path of a checkpoint")
        refresh_model_picker(self.init_model)
        self.init_figures = QtWidgets.QLabel()
        self.init_figures.setWordWrap(True)
        self.init_figures.setStyleSheet("color: gray")
        self.parts = _combo(PARTS)
        self.blocks = _spin(1, 20, 2, tip="backbone blocks trained, counted from the last")
        self.heads = {head: QtWidgets.QCheckBox(head, checked=True) for head in ALL_HEADS}

    def _make_optimisation_widgets(self) -> None:
        self.size = _spin(129, 1025, DEFAULTS.size, 16, "square input side, 16n + 1")
        self.length_kind = _combo(("steps", "epochs"))
        self.length = _spin(1, 1_000_000, DEFAULTS.length[1])
        self.batch = _spin(1, 512, DEFAULTS.batch, tip="images per step (and per process)")
        self.lr = _double(1e-6, 1.0, DEFAULTS.lr, 6, 1e-4)
        self.schedule = _combo(("cosine", "step"), DEFAULTS.schedule)
        self.eval_every = _spin(0, 1_000_000, DEFAULTS.eval_every, tip="steps between validations (0: at the end)")
        self.device = _combo(DEVICES, DEFAULTS.device)

    def _make_advanced_widgets(self) -> None:
        self.weights = {f.name: _double(0.0, 100.0, getattr(DEFAULTS.loss_weights, f.name), 3, 0.125)
                        for f in dataclasses.fields(LossWeights)}
        self.workers = _spin(0, 64, DEFAULTS.workers, tip="data loading processes")
        self.seed = _spin(0, 2 ** 31 - 1, DEFAULTS.seed)
        self.checkpoint_every = _spin(0, 1_000_000, DEFAULTS.checkpoint_every,
                                      tip="steps between resume states (Stop always saves one)")

    # -- layout ----------------------------------------------------------------------------
    def _data_group(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Data")
        form = _form(box)
        form.addRow("Project", _row(self.project, self.project_browse))
        form.addRow("More COCO sets", self.sources)
        form.addRow("", _row(self.add_source_button, self.remove_source_button))
        form.addRow("Validation", _row(self.val_mode, self.val_fraction))
        form.addRow("", _row(self.val_json, self.val_json_browse))
        form.addRow("", _row(self.val_images, self.val_images_browse))
        form.addRow(self.counts)
        self.data_form = form
        return box

    def _model_group(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("What to train")
        form = _form(box)
        form.addRow("New model name", self.name)
        form.addRow("Starting model", self.init_model)
        form.addRow("", self.init_figures)
        form.addRow("Train", _row(self.parts, self.blocks))
        heads = QtWidgets.QGridLayout()
        for i, box_ in enumerate(self.heads.values()):
            heads.addWidget(box_, i // 3, i % 3)
        form.addRow("Heads", heads)
        return box

    def _optimisation_group(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Optimisation")
        form = _form(box)
        form.addRow("Input size", self.size)
        form.addRow("Length", _row(self.length, self.length_kind))
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", _row(self.lr, self.schedule))
        form.addRow("Validate every", self.eval_every)
        form.addRow("Device", self.device)
        return box

    def _advanced_box(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox()
        form = _form(box)
        for name, spin in self.weights.items():
            form.addRow(f"{name} loss weight", spin)
        form.addRow("Data workers", self.workers)
        form.addRow("Seed", self.seed)
        form.addRow("Checkpoint every", self.checkpoint_every)
        return box

    def _connect(self) -> None:
        self.project_browse.clicked.connect(self._browse_project)
        self.add_source_button.clicked.connect(self._browse_source)
        self.remove_source_button.clicked.connect(self._remove_source)
        self.val_json_browse.clicked.connect(
            lambda: self._browse_file(self.val_json, "Validation COCO JSON", COCO_FILTER))
        self.val_images_browse.clicked.connect(lambda: self._browse_folder(self.val_images, "Validation images"))
        self.val_mode.currentIndexChanged.connect(self._validation_mode_changed)
        self.parts.currentIndexChanged.connect(self._parts_changed)
        self.init_model.currentTextChanged.connect(self._init_model_changed)
        self.distillation.foldersChanged.connect(self.dataChanged)
        for signal in (self.project.editingFinished, self.val_fraction.valueChanged,
                       self.val_json.editingFinished, self.val_images.editingFinished):
            signal.connect(self.dataChanged)
        self._init_model_changed(self.init_model.currentText())

    # -- reactions -------------------------------------------------------------------------
    def _validation_mode_changed(self) -> None:
        held_out = self.val_mode.currentText() == VAL_HELD_OUT
        self.val_fraction.setVisible(held_out)
        for widget in (self.val_json, self.val_images):
            self.data_form.setRowVisible(widget.parentWidget(), not held_out)
        self.dataChanged.emit()

    def _parts_changed(self) -> None:
        self.blocks.setVisible(PARTS[self.parts.currentText()] == "heads+")

    def _init_model_changed(self, model: str) -> None:
        tip = self.init_model.itemData(self.init_model.currentIndex(), QtCore.Qt.ItemDataRole.ToolTipRole)
        self.init_figures.setText(tip or "")
        if not self.name.isModified():      # the user's own name stays
            self.name.setText(default_name(model))

    def _browse_project(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a project", "", "Projects (*.plab)")
        if path:
            self.set_project(path)

    def _browse_source(self) -> None:
        coco, _ = QtWidgets.QFileDialog.getOpenFileName(self, "A COCO training set", "", COCO_FILTER)
        if coco:
            folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Its images folder")
            if folder:
                self.add_source(coco, folder)

    def _browse_file(self, line: QtWidgets.QLineEdit, title: str, pattern: str) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, title, line.text(), pattern)
        if path:
            line.setText(path)
            self.dataChanged.emit()

    def _browse_folder(self, line: QtWidgets.QLineEdit, title: str) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, title, line.text())
        if path:
            line.setText(path)
            self.dataChanged.emit()

    def _remove_source(self) -> None:
        row = self.sources.currentRow()
        if row >= 0:
            self.sources.takeItem(row)
            del self.extra_sources[row]
            self.dataChanged.emit()

    # -- API ---------------------------------------------------------------------------------
    def set_project(self, path: str) -> None:
        """Train on this project's reviewed images."""
        self.project.setText(str(path))
        self.dataChanged.emit()

    def add_source(self, coco_json: str, images: str) -> None:
        """Also train on a COCO set."""
        self.extra_sources.append(DataSource(str(coco_json), str(images)))
        self.sources.addItem(f"{coco_json}  ({images})")
        self.dataChanged.emit()

    def set_validation(self, coco_json: str | None, images: str | None = None,
                       fraction: float | None = None) -> None:
        """Validate on a COCO set, or (``coco_json`` None) on held-out project images."""
        self.val_mode.setCurrentText(VAL_COCO if coco_json else VAL_HELD_OUT)
        self.val_json.setText(coco_json or "")
        self.val_images.setText(images or "")
        if fraction is not None:
            self.val_fraction.setValue(fraction)
        self.dataChanged.emit()

    def refresh_models(self) -> None:
        refresh_model_picker(self.init_model)
        self._init_model_changed(self.init_model.currentText())
        self.distillation.refresh_models()

    def data_request(self) -> DataRequest:
        val = None
        if self.val_mode.currentText() == VAL_COCO:
            val = DataSource(self.val_json.text().strip(), self.val_images.text().strip())
        return DataRequest(self.project.text().strip() or None, tuple(self.extra_sources),
                           self.val_fraction.value(), val, self.distillation.folders())

    def spec(self) -> TrainingSpec:
        """The run the form describes (data not filled in); ValueError when invalid."""
        part = PARTS[self.parts.currentText()]
        spec = TrainingSpec(
            name=self.name.text().strip(), init_model=self.init_model.currentText(),
            train_parts=f"heads+{self.blocks.value()}" if part == "heads+" else part,
            heads=tuple(h for h, box in self.heads.items() if box.isChecked()),
            size=self.size.value(), length=(self.length_kind.currentText(), self.length.value()),
            batch=self.batch.value(), lr=self.lr.value(), schedule=self.schedule.currentText(),
            loss_weights=LossWeights(**{k: box.value() for k, box in self.weights.items()}),
            device=self.device.currentText(), workers=self.workers.value(), seed=self.seed.value(),
            eval_every=self.eval_every.value(), checkpoint_every=self.checkpoint_every.value(),
            **self.distillation.settings())
        spec.check()
        return spec


def default_name(model: str) -> str:
    """'<model>-ft-<date-time>': a fresh name for a model fine-tuned from ``model``."""
    base = DEFAULT_MODEL if model == "default" else Path(model).stem
    return f"{base}-ft-{dt.datetime.now():%Y%m%d-%H%M}"
