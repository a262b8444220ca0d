"""The keypoint tool: click to select a person or one of its keypoints, drag a keypoint
to move it (one undo step per drag), and place a missing keypoint of a chosen type.
"""

from __future__ import annotations

import itertools

import numpy as np

from ...core.skeleton import KEYPOINT_NAMES
from ..commands import MoveKeypoint, edit_person
from .base import Tool
from .picking import pick_keypoint, pick_person

_drags = itertools.count(1)


class KeypointTool(Tool):
    """Select, drag and add keypoints."""

    key, name, shortcut = "keypoints", "Keypoints", "V"
    hint = "Keypoints: click to select, drag to move, right-click for visibility and more."

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.placing: int | None = None   # keypoint type the next click places
        self._drag: tuple[int, int, int] | None = None

    def prompt(self) -> str:
        if self.placing is None:
            return self.hint
        person = self.ctx.selection.person
        return f"Click to place the {KEYPOINT_NAMES[self.placing]} of person #{self.ctx.doc.number(person)}."

    def arm(self, keypoint: int) -> None:
        """Make the next click place ``keypoint`` on the selected person."""
        if self.ctx.selected_person() is not None:
            self.placing = keypoint
            self.ctx.message(self.prompt())

    def reset(self) -> None:
        self.placing, self._drag = None, None

    def click(self, xy: np.ndarray, double: bool) -> bool:
        if self.placing is not None and self.ctx.selection.person is not None:
            self._place(xy)
            return True
        return self._select(xy)

    def drag_start(self, xy: np.ndarray) -> bool:
        hit = pick_keypoint(self.ctx.doc, xy, self.ctx.pick_radius, self.ctx.selection.person)
        if hit is None:
            return False
        self.ctx.selection.select(*hit)
        self._drag = (*hit, next(_drags))
        return True

    def drag_move(self, xy: np.ndarray) -> None:
        if self._drag is not None and self.ctx.doc.resolve(self._drag[0]) not in self.ctx.doc.people:
            self._drag = None   # the person went away during the drag (new predictions, undo)
        if self._drag is not None:
            self.ctx.stack.push(MoveKeypoint(self.ctx.doc, *self._drag[:2], xy, self._drag[2]))

    def drag_end(self, xy: np.ndarray) -> None:
        self.drag_move(xy)
        self._drag = None

    def menu(self, xy: np.ndarray):
        self._select(xy)
        return super().menu(xy)

    def _select(self, xy: np.ndarray) -> bool:
        doc, selection = self.ctx.doc, self.ctx.selection
        labelled = self.ctx.label_at(xy)
        if labelled is not None:
            selection.select(labelled)
            return True
        hit = pick_keypoint(doc, xy, self.ctx.pick_radius, selection.person)
        if hit is not None:
            selection.select(*hit)
            return True
        person = pick_person(doc, xy)
        selection.select(person)
        return person is not None

    def _place(self, xy: np.ndarray) -> None:
        person, k = self.ctx.selection.person, self.placing
        keypoints = self.ctx.doc.person(person).keypoints.copy()
        keypoints[k] = (*xy, 2)
        self.ctx.stack.push(edit_person(self.ctx.doc, person, f"Add {KEYPOINT_NAMES[k]}", keypoints=keypoints))
        self.ctx.selection.select(person, k)
        self.placing = None
        self.ctx.message(self.prompt())
