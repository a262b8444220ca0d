"""The document's people on the canvas: skeletons, keypoints and labels, one colour and
one number per person for its whole life (``Document.number``, as in the mask overlay and
every panel). A view of the ``Document``, not a result ``Layer``.

Predictions are dashed and faded towards grey; user people (accepted, edited, manual)
are solid; the selected person is drawn bold and its selected keypoint ringed. Keypoints
labelled visible (v = 2) are filled, occluded ones (v = 1) hollow; unlabelled ones (v = 0)
are hidden, except on the selected person where a small cross marks a known position
inside the image.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ...core.project import PersonRecord
from ...core.skeleton import COCO_SKELETON
from ..document import Document
from ..selection import Selection
from .palette import person_color
from .skeleton_item import Label, SegmentGroup, SkeletonItem

Z = 45
#: How far predictions fade towards grey (1: not at all).
PREDICTED_WEIGHT = 0.6
FADE_TO = np.array([90, 90, 90])
POINT_PX, SELECTED_POINT_PX = 7, 10


class AnnotationView(QtCore.QObject):
    """Redraws every person when the document or the selection changes."""

    def __init__(self, doc: Document, selection: Selection, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.selection = doc, selection
        self.skeletons = SkeletonItem()
        self.points = pg.ScatterPlotItem(pxMode=True)
        self.ring = pg.ScatterPlotItem(pxMode=True, symbol="o", size=18, brush=None,
                                       pen=pg.mkPen(255, 255, 255, width=2))
        for item in self.items:
            item.setZValue(Z)
        for signal in (doc.image_changed, doc.person_added, doc.person_removed, doc.person_changed,
                       selection.changed):
            signal.connect(self.redraw)

    @property
    def items(self) -> list:
        return [self.skeletons, self.points, self.ring]

    def redraw(self) -> None:
        groups, labels, spots = [], [], []
        for person_id in drawing_order(self.doc, self.selection):
            person, selected = self.doc.people[person_id], person_id == self.selection.person
            number = self.doc.number(person_id)
            color = _color(number, person.provenance == "predicted")
            groups.append(SegmentGroup(_pen(color, person, selected), _links(person.keypoints)))
            labels += _label(number, person, color, person_id)
            spots += _spots(person, color, selected, self.doc.image_hw)
        self.skeletons.set_data(groups, labels)
        self.points.setData(spots)
        self._draw_ring()

    def _draw_ring(self) -> None:
        person, keypoint = self.selection.person, self.selection.keypoint
        if person is None or keypoint is None or person not in self.doc.people:
            self.ring.clear()
            return
        x, y, _ = self.doc.people[person].keypoints[keypoint]
        self.ring.setData([x], [y])


def drawing_order(doc: Document, selection: Selection) -> list[int]:
    """The person ids, the selected person last (drawn on top)."""
    return sorted(doc.people, key=lambda person_id: person_id == selection.person)


def _color(number: int, predicted: bool) -> tuple[int, int, int]:
    color = np.array(person_color(number))
    if predicted:
        color = np.rint(FADE_TO + PREDICTED_WEIGHT * (color - FADE_TO)).astype(int)
    return tuple(int(c) for c in color)


def _pen(color: tuple[int, int, int], person: PersonRecord, selected: bool) -> QtGui.QPen:
    style = QtCore.Qt.PenStyle.DashLine if person.provenance == "predicted" else QtCore.Qt.PenStyle.SolidLine
    return pg.mkPen(*color, width=4.0 if selected else 2.0, style=style)


def _links(keypoints: np.ndarray) -> np.ndarray:
    """(n, 4) skeleton segments between labelled keypoints."""
    a, b = COCO_SKELETON[:, 0], COCO_SKELETON[:, 1]
    keep = (keypoints[a, 2] > 0) & (keypoints[b, 2] > 0)
    return np.concatenate([keypoints[a[keep], :2], keypoints[b[keep], :2]], axis=1)


def _label(number: int, person: PersonRecord, color: tuple[int, int, int], person_id: int) -> list[Label]:
    labelled = person.keypoints[person.keypoints[:, 2] > 0, :2]
    if len(labelled):
        top = labelled[np.argmin(labelled[:, 1])]
    elif person.bbox[2] > 0:
        top = np.array([person.bbox[0] + person.bbox[2] / 2, person.bbox[1]])
    else:
        return []
    text = f"#{number} {person.provenance}"
    if person.score is not None and person.provenance == "predicted":
        text += f" {person.score:.2f}"
    if person.iscrowd:
        text += " crowd"
    return [Label((float(top[0]), float(top[1])), text, QtGui.QColor(*color, 190), person_id)]


def _spots(person: PersonRecord, color: tuple[int, int, int], selected: bool,
           image_hw: tuple[int, int]) -> list[dict]:
    size = SELECTED_POINT_PX if selected else POINT_PX
    h, w = image_hw
    solid, outline = pg.mkBrush(*color), pg.mkPen(20, 20, 20, width=1)
    spots = []
    for x, y, v in person.keypoints:
        if v == 2:
            spots.append({"pos": (x, y), "size": size, "brush": solid, "pen": outline})
        elif v == 1:
            spots.append({"pos": (x, y), "size": size, "brush": pg.mkBrush(255, 255, 255, 200),
                          "pen": pg.mkPen(*color, width=2)})
        elif selected and (x or y) and 0 <= x < w and 0 <= y < h:
            spots.append({"pos": (x, y), "size": size, "symbol": "x", "brush": pg.mkBrush(200, 200, 200),
                          "pen": outline})
    return spots
