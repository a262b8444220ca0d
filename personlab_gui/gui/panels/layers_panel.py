"""The layers panel: per layer a visibility check box (with its shortcut), an opacity
slider, a colour-map choice where it applies and the layer's own options.

Rows of layers the loaded model cannot produce (untrained heads) are hidden.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..layers import Layer
from ..widgets import VerticalScroll, compact

#: Characters a layer's choice box is sized for (its list shows the long names in full).
LAYER_COMBO_CHARS = 8


class LayerRow(QtWidgets.QFrame):
    """Controls of one layer."""

    changed = QtCore.Signal()

    def __init__(self, layer: Layer, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.check = QtWidgets.QCheckBox(f"{layer.name}  [{layer.shortcut}]")
        self.check.setChecked(layer.visible)
        self.check.setToolTip(layer.legend)
        self.check.toggled.connect(self._set_visible)
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(layer.opacity * 100))
        self.opacity.setToolTip("opacity")
        self.opacity.setMaximumWidth(90)
        self.opacity.valueChanged.connect(self._set_opacity)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.check, 1)
        top.addWidget(self.opacity)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        self.combos: dict[str, QtWidgets.QComboBox] = {}
        choices = self._choice_row()
        if choices.count():
            layout.addLayout(choices)

    def _choice_row(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        if self.layer.colormaps:
            maps = self.layer.colormaps
            self.combos["colormap"] = self._combo(maps, maps.index(self.layer.colormap), "colour map",
                                                  self._set_colormap)
            row.addWidget(self.combos["colormap"])
        for option in self.layer.options:
            combo = self._combo(option.choices, option.index, option.label,
                                lambda i, label=option.label: self._set_option(label, i))
            self.combos[option.label] = combo
            row.addWidget(combo, 1)
        return row

    @staticmethod
    def _combo(choices: tuple[str, ...], index: int, tip: str, slot) -> QtWidgets.QComboBox:
        combo = compact(QtWidgets.QComboBox(), min(LAYER_COMBO_CHARS, max(map(len, choices))))
        combo.addItems(list(choices))
        combo.setCurrentIndex(index)
        combo.setToolTip(tip)
        combo.currentIndexChanged.connect(slot)
        return combo

    def _set_visible(self, on: bool) -> None:
        self.layer.visible = on
        self.changed.emit()

    def _set_opacity(self, value: int) -> None:
        self.layer.opacity = value / 100.0

    def _set_colormap(self, index: int) -> None:
        self.layer.colormap = self.layer.colormaps[index]

    def _set_option(self, label: str, index: int) -> None:
        self.layer.set_option(label, index)
        self.changed.emit()


class LayersPanel(VerticalScroll):
    """All layer rows, top to bottom in panel order."""

    changed = QtCore.Signal()   # visibility or an option changed (what the inspector reads)

    def __init__(self, layers: dict[str, Layer], parent: QtWidgets.QWidget | None = None) -> None:
        rows = {key: LayerRow(layer) for key, layer in layers.items()}
        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        for row in rows.values():
            layout.addWidget(row)
        layout.addStretch(1)
        super().__init__(body, parent)
        self.rows = rows
        for row in rows.values():
            row.changed.connect(self.changed)
        self.set_trained_heads(())   # until a model says which heads it has

    def toggle(self, key: str) -> None:
        """Flip a layer's visibility (what its shortcut does)."""
        row = self.rows[key]
        if row.layer.applies_to(self._heads):
            row.check.toggle()

    def set_trained_heads(self, heads: tuple[str, ...]) -> None:
        """Show only the layers a model with these heads can produce."""
        self._heads = heads
        for row in self.rows.values():
            row.setVisible(row.layer.applies_to(heads))
