"""The training form's Distillation group: frozen teacher models (the heads each one gives
targets for, and the model), folders of unlabeled images trained through them only, and
the weight of the ground-truth loss beside theirs. Off until checked; it reads back as the
``teachers``, ``unlabeled`` and ``gt_weight`` of a ``TrainingSpec`` (``personlab-gui train
--teacher HEADS=MODEL --unlabeled DIR --gt-weight W``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6 import QtCore, QtWidgets

from ...core.training.distill import TeacherSpec
from ...core.skeleton import MODEL_HEADS
from ..widgets import compact, guard_wheel
from .spec import TrainingSpec
from .zoo_picker import refresh_model_picker

#: The teachers the default model was distilled from (model_zoo/README.md).
DEFAULT_TEACHERS = (("heatmap,short,mid", "posenet_mnv1_075"),
                    ("segmentation,long,parts", "bodypix_mnv1_075"))
GT_WEIGHT = TrainingSpec(name="").gt_weight


class TeacherRow(QtWidgets.QWidget):
    """One teacher: its heads (comma-separated), its model, and a remove button."""

    removed = QtCore.Signal(object)     # this row

    def __init__(self, heads: str, model: str, parent=None) -> None:
        super().__init__(parent)
        self.heads = QtWidgets.QLineEdit(heads, placeholderText="heads, e.g. heatmap,short,mid")
        self.heads.setToolTip(f"the heads this teacher gives targets for, from {', '.join(MODEL_HEADS)}")
        self.model = compact(QtWidgets.QComboBox(editable=True), 14)
        self.model.setToolTip("the frozen teacher: a zoo model, or the path of a checkpoint")
        refresh_model_picker(self.model)
        self.model.setCurrentText(model)
        self.remove = QtWidgets.QToolButton(text="✕", toolTip="remove this teacher")
        self.remove.clicked.connect(lambda: self.removed.emit(self))
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heads, 1)
        layout.addWidget(self.model, 1)
        layout.addWidget(self.remove)
        guard_wheel(self)

    def teacher(self) -> str:
        """'HEAD,...=MODEL', normalised; ValueError (one line) when the heads are wrong."""
        spec = TeacherSpec.parse(f"{self.heads.text()}={self.model.currentText()}")
        return f"{','.join(spec.heads)}={spec.model}"


class DistillationGroup(QtWidgets.QGroupBox):
    """A checkable group (unchecked at first) whose content shows only while checked;
    emits ``foldersChanged`` when the unlabeled folders in use change."""

    foldersChanged = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Distil from teachers", parent)
        self.setToolTip("train the chosen heads to reproduce frozen teacher models' outputs, "
                        "also on unlabeled images")
        self.setCheckable(True)
        self.setChecked(False)
        self.rows: list[TeacherRow] = []
        self._make_widgets()
        self.content = self._content()
        QtWidgets.QVBoxLayout(self).addWidget(self.content)
        self.toggled.connect(self.content.setVisible)
        self.toggled.connect(self.foldersChanged)
        self.content.setVisible(False)
        self.set_teachers(DEFAULT_TEACHERS)

    def _make_widgets(self) -> None:
        self.teacher_rows = QtWidgets.QVBoxLayout()
        self.teacher_rows.setContentsMargins(0, 0, 0, 0)
        self.add_teacher_button = QtWidgets.QPushButton("Add teacher")
        self.preset_button = QtWidgets.QPushButton("Default teachers")
        self.preset_button.setToolTip("the teachers the default model was distilled from: "
                                      + "; ".join(f"{h} from {m}" for h, m in DEFAULT_TEACHERS))
        self.unlabeled = QtWidgets.QListWidget()
        self.unlabeled.setMaximumHeight(60)
        self.unlabeled.setToolTip("folders of images without labels: they train through the teachers "
                                  "only (with them, labelled data is optional)")
        self.add_folder_button = QtWidgets.QPushButton("Add folder…")
        self.remove_folder_button = QtWidgets.QPushButton("Remove")
        self.gt_weight = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=100.0, decimals=2, singleStep=0.1)
        self.gt_weight.setValue(GT_WEIGHT)
        self.gt_weight.setToolTip("weight of the ground-truth loss beside the teachers' (where labels exist)")
        self.add_teacher_button.clicked.connect(lambda: self.add_teacher("", "default"))
        self.preset_button.clicked.connect(lambda: self.set_teachers(DEFAULT_TEACHERS))
        self.add_folder_button.clicked.connect(self._browse_folder)
        self.remove_folder_button.clicked.connect(self._remove_folder)

    def _content(self) -> QtWidgets.QWidget:
        content = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(content)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapAllRows)
        form.addRow("Teachers (heads = model)", self.teacher_rows)
        form.addRow(_buttons(self.add_teacher_button, self.preset_button))
        form.addRow("Unlabeled images", self.unlabeled)
        form.addRow(_buttons(self.add_folder_button, self.remove_folder_button))
        weight = QtWidgets.QFormLayout()
        weight.addRow("Ground-truth weight", self.gt_weight)
        form.addRow(weight)
        return content

    # -- teachers and folders ------------------------------------------------------------------
    def add_teacher(self, heads: str, model: str) -> TeacherRow:
        row = TeacherRow(heads, model)
        row.removed.connect(self._remove_teacher)
        self.teacher_rows.addWidget(row)
        self.rows.append(row)
        return row

    def set_teachers(self, teachers: Iterable[tuple[str, str]]) -> None:
        """Replace the rows by these (heads, model) pairs."""
        for row in list(self.rows):
            self._remove_teacher(row)
        for heads, model in teachers:
            self.add_teacher(heads, model)

    def _remove_teacher(self, row: TeacherRow) -> None:
        self.rows.remove(row)
        self.teacher_rows.removeWidget(row)
        row.hide()
        row.deleteLater()      # not at once: its own button may be what removes it

    def add_unlabeled(self, folder: str) -> None:
        """Also train on this folder's images (through the teachers)."""
        self.unlabeled.addItem(str(folder))
        self.foldersChanged.emit()

    def _browse_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "A folder of unlabeled images")
        if folder:
            self.add_unlabeled(folder)

    def _remove_folder(self) -> None:
        row = self.unlabeled.currentRow()
        if row >= 0:
            self.unlabeled.takeItem(row)
            self.foldersChanged.emit()

    def refresh_models(self) -> None:
        for row in self.rows:
            refresh_model_picker(row.model)

    # -- reading back ----------------------------------------------------------------------------
    def folders(self) -> tuple[str, ...]:
        """The unlabeled image folders, when distillation is on."""
        if not self.isChecked():
            return ()
        return tuple(self.unlabeled.item(i).text() for i in range(self.unlabeled.count()))

    def settings(self) -> dict:
        """``teachers``, ``unlabeled`` and ``gt_weight`` of the spec (none when off);
        ValueError (one line) for a bad teacher or none at all."""
        if not self.isChecked():
            return {}
        if not self.rows:
            raise ValueError("distillation: add a teacher (or uncheck Distillation)")
        return {"teachers": tuple(row.teacher() for row in self.rows), "unlabeled": self.folders(),
                "gt_weight": self.gt_weight.value()}


def _buttons(*buttons: QtWidgets.QPushButton) -> QtWidgets.QHBoxLayout:
    layout = QtWidgets.QHBoxLayout()
    for button in buttons:
        layout.addWidget(button)
    layout.addStretch(1)
    return layout
