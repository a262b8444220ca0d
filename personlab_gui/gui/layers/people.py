"""Decoded people: COCO's 19-link skeletons, one colour per person, keypoint score as
alpha and size, and the instance score as a label; the selected person is drawn bolder.

Decoding keeps every seed, so many "people" are duplicates the instance score discounts
to near zero. By default only the people that become labels are drawn (``confident``: the
pseudo-label policy of ``core.data.pseudo_labels``, as stored predictions and ``infer --format
dataset`` get them); "all" also draws the other candidates thin and faded, "candidates"
only those (the inspector names why each is not a label); better people on top. Lines
stay opaque, faded by mixing with grey: translucent lines take the raster engine's slow path.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from ...core.data.pseudo_labels import LABEL
from ...core.decoding.result import InferenceResult
from ...core.skeleton import COCO_SKELETON, KEYPOINT_NAMES
from .base import Layer, Option, ProbeRows
from .extent import inside_image, on_image
from .palette import decoded_color, decoded_colors, decoded_label
from .skeleton_item import Label, SegmentGroup, SkeletonItem

#: Links between keypoints scoring less than this (both ends' minimum) are not drawn.
LINK_MIN_SCORE = 0.05
#: Hover within this many image pixels of a keypoint reports it.
PICK_RADIUS = 12.0
#: How strongly the other people (drawn only when the layer shows "all") fade to grey.
FADED = 0.35
FADE_TO = np.array([70, 70, 70])
ALPHA_LEVELS = 5
SHOW_CHOICES = ("confident", "all", "candidates")


def confident(result: InferenceResult) -> np.ndarray:
    """Which people become labels (the others are candidates)."""
    return np.array([verdict == LABEL for verdict in result.label_verdicts], bool)


class PeopleLayer(Layer):
    """Skeletons and labels (one batched item), keypoints (one scatter item)."""

    key, name, shortcut, z = "people", "Decoded people", "P", 40
    default_visible = True

    def __init__(self) -> None:
        self.selected = -1
        super().__init__()

    def _make_items(self) -> list:
        self.keypoints_item = pg.ScatterPlotItem(pxMode=True, pen=pg.mkPen(0, 0, 0, 160))
        self.skeletons = SkeletonItem()
        return [self.skeletons, self.keypoints_item]

    def _make_options(self) -> list[Option]:
        return [Option("show", SHOW_CHOICES)]

    def select(self, index: int) -> None:
        """Highlight person ``index`` (-1: none)."""
        self.selected = index
        self.refresh()

    def drawn_people(self, result: InferenceResult) -> list[int]:
        """Indices of the people drawn, worst first (so the best end on top)."""
        keep = np.ones(len(result.people), bool)
        show = self.option("show").value
        if show != "all":
            keep = confident(result) == (show == "confident")
        keep[self.selected] |= 0 <= self.selected < len(keep)
        return [int(j) for j in np.nonzero(keep)[0][::-1]]

    def _draw(self, result: InferenceResult) -> None:
        weights = np.where(confident(result), 1.0, FADED)
        drawn = self.drawn_people(result)
        groups, labels = [], []
        for j in drawn:
            keypoints, color = on_image(result.people[j].keypoints, result.image_hw), decoded_color(j, self.numbers)
            faded = np.rint(FADE_TO + weights[j] * (np.array(color) - FADE_TO)).astype(int)
            width = 4.0 if j == self.selected else 2.0 if weights[j] == 1.0 else 1.0
            pen = pg.mkPen(*faded.tolist(), width=width)
            groups.append(SegmentGroup(pen, links(keypoints)))
            if weights[j] == 1.0:   # faded people get no label: the inspector lists them
                top = keypoints[np.argmin(keypoints[:, 1]), :2]
                text = f"{decoded_label(j, self.numbers)} {result.people[j].score:.2f}"
                labels.append(Label(tuple(top), text, QtGui.QColor(*color, 190), j))
        self.skeletons.set_data(groups, labels)
        self._draw_keypoints(result, drawn, weights)

    def _draw_keypoints(self, result: InferenceResult, drawn: list[int], weights: np.ndarray) -> None:
        if not drawn:
            self.keypoints_item.clear()
            return
        points = np.concatenate([result.people[j].keypoints for j in drawn])
        owners = np.repeat(drawn, [len(result.people[j].keypoints) for j in drawn])
        keep = inside_image(points[:, :2], result.image_hw)
        points, owners = points[keep], owners[keep]
        score = np.clip(points[:, 2], 0.0, 1.0)
        # quantised alpha and size: the scatter item renders one sprite per distinct style
        alpha = np.round((0.2 + 0.8 * score) * weights[owners] * ALPHA_LEVELS) / ALPHA_LEVELS
        rgba = [tuple(c) for c in np.column_stack([decoded_colors(len(result.people), self.numbers)[owners],
                                                   np.round(255 * alpha)]).astype(int).tolist()]
        brushes = {c: pg.mkBrush(*c) for c in set(rgba)}
        self.keypoints_item.setData(x=points[:, 0], y=points[:, 1], size=np.round(4 + 8 * score),
                                    brush=[brushes[c] for c in rgba])

    def _clear(self) -> None:
        self.skeletons.set_data([], [])
        self.keypoints_item.clear()

    def probe(self, xy: np.ndarray) -> ProbeRows:
        hit = nearest_keypoint(self.result, xy)
        if hit is None:
            return []
        j, k = hit
        x, y, score = self.result.people[j].keypoints[k]
        who = f"person {decoded_label(j, self.numbers)}"
        return [(f"{who} {KEYPOINT_NAMES[k]}", f"score {score:.3f} at ({x:.0f}, {y:.0f})")]


def links(keypoints: np.ndarray) -> np.ndarray:
    """(n, 4) COCO skeleton segments between keypoints scoring at least LINK_MIN_SCORE."""
    a, b = COCO_SKELETON[:, 0], COCO_SKELETON[:, 1]
    keep = np.minimum(keypoints[a, 2], keypoints[b, 2]) >= LINK_MIN_SCORE
    return np.concatenate([keypoints[a[keep], :2], keypoints[b[keep], :2]], axis=1)


def nearest_keypoint(result: InferenceResult, xy: np.ndarray,
                     radius: float = PICK_RADIUS) -> tuple[int, int] | None:
    """(person, keypoint) of the decoded keypoint nearest to ``xy`` within ``radius``."""
    best, hit = radius, None
    for j, person in enumerate(result.people):
        distance = np.hypot(*(person.keypoints[:, :2] - xy).T)
        k = int(np.argmin(distance))
        if distance[k] <= best:
            best, hit = float(distance[k]), (j, k)
    return hit
