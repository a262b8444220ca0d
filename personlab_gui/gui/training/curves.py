"""Live training curves (pyqtgraph): loss per head and total (log scale; a head's teacher
loss, when distilling, dashed in the head's colour), validation
keypoint AP and mask AP against steps (one plot each, scaled to show small changes) with
the starting model's AP as a dashed baseline, learning rate and images/s. A view of
``TrainingRun``: it redraws from the run's history.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from .run import METRIC_NAMES, History, TrainingRun

HEAD_COLORS = {"total": (240, 240, 240), "heatmap": (230, 25, 75), "segmentation": (60, 180, 75),
               "short": (255, 225, 25), "mid": (0, 130, 200), "long": (245, 130, 48),
               "parts": (145, 30, 180)}
#: Prefix of a teacher's loss of a head (distillation), e.g. "distill/heatmap".
DISTILL = "distill/"
SOLID, DASHED = QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenStyle.DashLine
AP_COLORS = {"keypoints/AP": (70, 200, 240), "segm/AP": (240, 90, 230)}
#: Smallest y span of an AP plot, so noise-sized changes do not fill it, and the room
#: below and above the values (above: for the baseline's label), as fractions of the span.
MIN_AP_SPAN = 0.04
BELOW, ABOVE = 0.15, 0.4


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Loss, keypoint AP and mask AP on top; learning rate and images/s below; x linked."""

    def __init__(self, run: TrainingRun, parent=None) -> None:
        super().__init__(parent)
        self.run = run
        self.loss = self._plot(0, 0, "Loss (log)")
        self.loss.setLogMode(y=True)
        self.ap = {key: self._plot(0, col, f"Validation {METRIC_NAMES[key]}")
                   for col, key in enumerate(AP_COLORS, start=1)}
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=3, frame=False)
        self.addItem(self.legend, row=1, col=0)
        self.lr = self._plot(2, 0, "Learning rate")
        self.rate = self._plot(2, 1, "Images/s", colspan=2)
        for plot in (*self.ap.values(), self.lr, self.rate):
            plot.setXLink(self.loss)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(2, 2)
        self._curves: dict[tuple[pg.PlotItem, str], pg.PlotDataItem] = {}
        self._baselines: set[str] = set()
        run.progressed.connect(self.redraw)
        run.reset.connect(self.clear_curves)

    def _plot(self, row: int, col: int, title: str, colspan: int = 1) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=col, colspan=colspan, title=title)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "step")
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        return plot

    def _curve(self, plot: pg.PlotItem, key: str, color: tuple, width: float = 1.5,
               symbol: str | None = None, style: QtCore.Qt.PenStyle = SOLID) -> pg.PlotDataItem:
        item = self._curves.get((plot, key))
        if item is None:
            item = plot.plot(pen=pg.mkPen(color, width=width, style=style), symbol=symbol, symbolSize=6,
                             symbolBrush=color, symbolPen=None, connect="finite")
            self._curves[(plot, key)] = item
        return item

    def clear_curves(self) -> None:
        """Forget every curve and baseline (a new run)."""
        for plot in (self.loss, *self.ap.values(), self.lr, self.rate):
            plot.clear()
        self.legend.clear()
        self._curves.clear()
        self._baselines.clear()

    def redraw(self) -> None:
        h = self.run.history
        self._draw_losses(h)
        for key in AP_COLORS:
            self._draw_ap(h, key)
        if h.steps:
            self._curve(self.lr, "lr", (180, 180, 255)).setData(h.steps, h.lr)
            self._curve(self.rate, "rate", (180, 255, 180)).setData(h.steps, h.rate)

    def _draw_losses(self, h: History) -> None:
        """One curve per head; a step without targets for a head (loss 0) is a gap."""
        for name, values in h.losses.items():
            if (self.loss, name) not in self._curves:
                width = 2.5 if name == "total" else 1.2
                color = HEAD_COLORS.get(name.removeprefix(DISTILL), (200, 200, 200))
                style = DASHED if name.startswith(DISTILL) else SOLID
                self.legend.addItem(self._curve(self.loss, name, color, width, style=style), name)
            y = np.asarray(values, dtype=float)
            self._curves[(self.loss, name)].setData(h.steps, np.where(y > 0, y, np.nan))

    def _draw_ap(self, h: History, key: str) -> None:
        plot, color = self.ap[key], AP_COLORS[key]
        if key in h.metrics:
            self._curve(plot, key, color, 2.0, symbol="o").setData(h.eval_steps, h.metrics[key])
        if key in h.baseline and key not in self._baselines:
            plot.addItem(_baseline(h.baseline[key], color))
            self._baselines.add(key)
        values = [v for v in (*h.metrics.get(key, ()), h.baseline.get(key)) if v is not None and v >= 0]
        if values:
            low, high = min(values), max(values)
            span = max(MIN_AP_SPAN, high - low)
            plot.setYRange(low - BELOW * span, high + ABOVE * span, padding=0)


def _baseline(value: float, color: tuple) -> pg.InfiniteLine:
    """A dashed horizontal line at the starting model's AP."""
    pen = pg.mkPen(color, width=1.5, style=QtCore.Qt.PenStyle.DashLine)
    return pg.InfiniteLine(pos=value, angle=0, pen=pen, label=f"start {value:.3f}",
                           labelOpts={"position": 0.05, "color": color, "anchors": [(0, 1), (0, 1)]})
