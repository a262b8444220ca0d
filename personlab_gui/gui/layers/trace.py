"""One step of the greedy decoder's trace on the canvas, with the person built so far.

Seeds are rings, NMS rejections crosses inside the radius-r disk that blocked them,
followed edges arrows, placed keypoints filled dots labelled with their score.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.data.preprocess import InputTransform
from ...core.decoding.result import InferenceResult, TraceEvent
from ...core.skeleton import KEYPOINT_NAMES, NMS_RADIUS
from .arrows import arrows_item, clear_arrows, set_arrows
from .base import Layer
from .palette import Numbers, decoded_label

STYLE = {  # kind -> (scatter symbol, RGB)
    "seed": ("o", (255, 240, 0)),
    "nms_reject": ("x", (255, 60, 60)),
    "edge": ("t", (0, 230, 255)),
    "place": ("o", (80, 255, 80)),
}
CIRCLE = np.linspace(0.0, 2.0 * np.pi, 49)


def describe(event: TraceEvent, transform: InputTransform, numbers: Numbers = None) -> str:
    """One line saying what the decoder did at ``event``, in image pixels."""
    name, who = KEYPOINT_NAMES[event.keypoint], _who(event, numbers)
    x, y = transform.to_image(np.array([event.x, event.y]))
    at = f"({x:.0f}, {y:.0f})"
    if event.kind == "seed":
        return f"seed {who}: {name} at {at}, score {event.score:.3f}"
    if event.kind == "nms_reject":
        return f"reject {name} at {at} ({event.score:.3f}): within r of {who}"
    if event.kind == "edge":
        return f"{who}: follow {KEYPOINT_NAMES[event.from_keypoint]} → {name} to {at}"
    return f"{who}: place {name} at {at}, score {event.score:.3f}"


def tag(event: TraceEvent, numbers: Numbers = None) -> str:
    """A few words for the canvas beside the step's marker."""
    name, who = KEYPOINT_NAMES[event.keypoint], decoded_label(event.person, numbers)
    if event.kind == "edge":
        return f"{who} {KEYPOINT_NAMES[event.from_keypoint]} → {name}"
    return f"{who} {event.kind.replace('_', ' ')} {name} {event.score:.2f}"


def _who(event: TraceEvent, numbers: Numbers) -> str:
    label = decoded_label(event.person, numbers)
    return label if not label.startswith("#") else f"person {label}"


class TraceLayer(Layer):
    """Draws ``result.trace[step]``."""

    key, name, shortcut, z = "trace", "Decoding trace step", "T", 60
    default_visible = True

    def __init__(self) -> None:
        self.step = -1
        super().__init__()

    def _make_items(self) -> list:
        self.history = pg.ScatterPlotItem(pxMode=True, size=7, pen=None, brush=pg.mkBrush(80, 255, 80, 110))
        self.marker = pg.ScatterPlotItem(pxMode=True, size=16, brush=None)
        self.arrow = arrows_item((0, 230, 255), width=2.5)
        self.circle = pg.PlotCurveItem(pen=pg.mkPen(255, 60, 60, width=1.5))
        self.label = pg.TextItem(color=(255, 255, 255), fill=pg.mkBrush(0, 0, 0, 170), anchor=(0, -0.4))
        return [self.history, self.marker, self.arrow, self.circle, self.label]

    def set_step(self, step: int) -> None:
        """Show trace event ``step`` (-1: none)."""
        self.step = step
        self.refresh()

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and 0 <= self.step < len(result.trace)

    def _draw(self, result: InferenceResult) -> None:
        event = result.trace[self.step]
        to_image = result.transform.to_image
        x, y = to_image(np.array([event.x, event.y]))
        symbol, rgb = STYLE[event.kind]
        self.marker.setData(x=[x], y=[y], symbol=symbol, pen=pg.mkPen(*rgb, width=2.5),
                            brush=pg.mkBrush(*rgb, 200) if event.kind == "place" else None)
        placed = self._placed_so_far(result)
        self.history.setData(pos=to_image(placed) if len(placed) else np.zeros((0, 2)))
        self._draw_arrow(result, event)
        self._draw_circle(result, event, x, y)
        self.label.setText(tag(event, self.numbers))
        self.label.setPos(x, y)
        # below the point (person labels sit above heads), towards the image centre
        self.label.setAnchor((1.0 if x > result.image_hw[1] / 2 else 0.0, -0.4))

    def _placed_so_far(self, result: InferenceResult) -> np.ndarray:
        """Input-pixel positions of the keypoints the current person received before this step."""
        person = result.trace[self.step].person
        return np.array([(e.x, e.y) for e in result.trace[:self.step]
                         if e.kind in ("seed", "place") and e.person == person]).reshape(-1, 2)

    def _draw_arrow(self, result: InferenceResult, event: TraceEvent) -> None:
        if event.kind != "edge":
            clear_arrows(self.arrow)
            return
        ends = result.transform.to_image(np.array([[event.from_x, event.from_y], [event.x, event.y]]))
        set_arrows(self.arrow, ends[:1], ends[1:], 0.25 * float(np.hypot(*(ends[1] - ends[0]))))

    def _draw_circle(self, result: InferenceResult, event: TraceEvent, x: float, y: float) -> None:
        if event.kind != "nms_reject":
            self.circle.setData(x=np.zeros(0), y=np.zeros(0))
            return
        radius = NMS_RADIUS / result.transform.scale_xy
        self.circle.setData(x=x + radius[0] * np.cos(CIRCLE), y=y + radius[1] * np.sin(CIRCLE))

    def _clear(self) -> None:
        for item in (self.history, self.marker):
            item.clear()
        clear_arrows(self.arrow)
        self.circle.setData(x=np.zeros(0), y=np.zeros(0))
        self.label.setText("")
