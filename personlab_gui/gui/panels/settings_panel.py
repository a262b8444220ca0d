"""Model, device and inference settings (input size, scales, flip, decoder, mask
assignment and long-range refinement steps, thresholds).

Edits are collected for a moment and then emitted as one new ``InferenceSettings``;
threshold fields are read from the dataclass, so new thresholds appear without GUI code.
"""

from __future__ import annotations

import contextlib
import dataclasses

from PySide6 import QtCore, QtWidgets

from ...core.inference.engine import DECODERS, MASK_ASSIGNMENTS, InferenceSettings, has_masks, long_self_steps
from ...core.model.checkpoint import DECODING_KEYS
from ...core.model.runner import BACKEND_HELP, BACKENDS
from ...core.model.zoo import zoo_names
from ..widgets import compact

DEVICES = ("auto", "cpu", "cuda", "mps")
DEBOUNCE_MS = 300


def threshold_fields() -> list[str]:
    """The float fields of ``InferenceSettings`` (thresholds), in declaration order."""
    return [f.name for f in dataclasses.fields(InferenceSettings) if f.type in (float, "float")]


def parse_scales(text: str) -> tuple[float, ...]:
    """'1, 1.5' -> (1.0, 1.5); ValueError on anything else."""
    scales = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    if not scales:
        raise ValueError("give at least one scale")
    return scales


class SettingsPanel(QtWidgets.QWidget):
    """Emits ``modelChosen`` and ``settingsChanged``; shows a one-line reason for bad input."""

    settingsChanged = QtCore.Signal(object)   # InferenceSettings
    modelChosen = QtCore.Signal(str, str, str)   # model name or path, device, backend

    def __init__(self, settings: InferenceSettings, model: str, device: str, backend: str = "float",
                 parent=None) -> None:
        super().__init__(parent)
        self.model = compact(QtWidgets.QComboBox())
        self.model.addItems(["default", *zoo_names()])
        self.browse = QtWidgets.QPushButton("Browse…")
        self.device = QtWidgets.QComboBox()
        self.device.addItems(list(DEVICES))
        self.backend = QtWidgets.QComboBox()
        self.backend.addItems(list(BACKENDS))
        self.backend.setToolTip(BACKEND_HELP)
        self.size = QtWidgets.QSpinBox()
        self.size.setRange(129, 2049)
        self.size.setSingleStep(32)
        self.scales = QtWidgets.QLineEdit()
        self.flip = QtWidgets.QCheckBox("average with the mirrored image")
        self.decoder = QtWidgets.QComboBox()
        self.decoder.addItems(list(DECODERS))
        self.mask_assignment = QtWidgets.QComboBox()
        self.mask_assignment.addItems(list(MASK_ASSIGNMENTS))
        self.mask_assignment.setToolTip("pixel → person rule for instance masks")
        self.refine_steps = self._refine_steps_box()
        self.thresholds = {name: self._threshold_box() for name in threshold_fields()}
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet("color: #e05050")
        self.error.setWordWrap(True)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply)
        self._layout()
        self.set_trained_heads(())
        self.show_model(model, device, backend)
        self.show_settings(settings)
        self._connect()

    @staticmethod
    def _refine_steps_box() -> QtWidgets.QSpinBox:
        """Long-range self-refinement steps; its lowest value is 'the model's own' (None)."""
        low, high = DECODING_KEYS["long_self_steps"]
        box = QtWidgets.QSpinBox()
        box.setRange(low - 1, high)
        box.setSpecialValueText("model's")
        box.setToolTip("self-refinement steps of the long-range offsets before the instance masks "
                       "are assigned (lowest: the model's own setting)")
        return box

    @staticmethod
    def _threshold_box() -> QtWidgets.QDoubleSpinBox:
        box = QtWidgets.QDoubleSpinBox()
        box.setRange(0.0, 1.0)
        box.setDecimals(3)
        box.setSingleStep(0.01)
        return box

    def _layout(self) -> None:
        model_row = QtWidgets.QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.browse)
        self.form = form = QtWidgets.QFormLayout(self)
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)   # a narrow dock
        form.addRow("Model", model_row)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        form.addRow("Input long side", self.size)
        form.addRow("Scales", self.scales)
        form.addRow("Flip", self.flip)
        form.addRow("Decoder", self.decoder)
        form.addRow("Mask assignment", self.mask_assignment)
        form.addRow("Long refine steps", self.refine_steps)
        for name, box in self.thresholds.items():
            form.addRow(name.replace("_", " ").capitalize(), box)
        form.addRow(self.error)

    def _connect(self) -> None:
        self.model.activated.connect(self._model_activated)
        self.device.activated.connect(self._model_activated)
        self.backend.activated.connect(self._model_activated)
        self.browse.clicked.connect(self._browse)
        for signal in (self.size.valueChanged, self.scales.textEdited, self.flip.toggled,
                       self.decoder.currentIndexChanged, self.mask_assignment.currentIndexChanged,
                       self.refine_steps.valueChanged, *(box.valueChanged for box in self.thresholds.values())):
            signal.connect(self._timer.start)

    def show_model(self, model: str, device: str, backend: str | None = None) -> None:
        """Reflect the model, device and backend in use (adds a checkpoint path if new)."""
        if self.model.findText(model) < 0:
            self.model.addItem(model)
        self.model.setCurrentText(model)
        self.device.setCurrentText(device)
        if backend is not None:
            self.backend.setCurrentText(backend)

    def show_settings(self, settings: InferenceSettings) -> None:
        """Reflect ``settings`` without emitting anything."""
        with contextlib.ExitStack() as stack:
            for widget in (self.size, self.scales, self.flip, self.decoder, self.mask_assignment,
                           self.refine_steps, *self.thresholds.values()):
                stack.enter_context(QtCore.QSignalBlocker(widget))
            self.size.setValue(settings.size)
            self.scales.setText(", ".join(f"{s:g}" for s in settings.scales))
            self.flip.setChecked(settings.flip)
            self.decoder.setCurrentText(settings.decoder)
            self.mask_assignment.setCurrentText(settings.mask_assignment)
            steps = settings.long_refine_steps
            self.refine_steps.setValue(self.refine_steps.minimum() if steps is None else steps)
            for name, box in self.thresholds.items():
                box.setValue(getattr(settings, name))

    def current(self) -> InferenceSettings:
        """The settings the widgets describe; ValueError (one line) if they are invalid."""
        values = {name: box.value() for name, box in self.thresholds.items()}
        steps = self.refine_steps.value()
        return InferenceSettings(size=self.size.value(), scales=parse_scales(self.scales.text()),
                                 flip=self.flip.isChecked(), decoder=self.decoder.currentText(),
                                 mask_assignment=self.mask_assignment.currentText(),
                                 long_refine_steps=None if steps == self.refine_steps.minimum() else steps,
                                 **values)

    def set_trained_heads(self, heads: tuple[str, ...]) -> None:
        """Offer the mask settings only to models that produce masks."""
        for widget in (self.mask_assignment, self.refine_steps):
            self.form.setRowVisible(widget, has_masks(tuple(heads)))

    def set_model_decoding(self, decoding: dict[str, int]) -> None:
        """Name the loaded model's own refinement steps (its checkpoint's decoding settings)."""
        self.refine_steps.setSpecialValueText(f"model's ({long_self_steps(InferenceSettings(), decoding)})")

    def apply(self) -> None:
        """Emit the edited settings now (or show why they are invalid)."""
        self._timer.stop()
        try:
            settings = self.current()
        except ValueError as exc:
            self.error.setText(f"Settings not applied: {exc}")
            return
        self.error.setText("")
        self.settingsChanged.emit(settings)

    def _model_activated(self) -> None:
        self.modelChosen.emit(self.model.currentText(), self.device.currentText(), self.backend.currentText())

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a checkpoint", "", "Checkpoints (*.pt)")
        if path:
            self.show_model(path, self.device.currentText())
            self._model_activated()
