"""The add-person tool: place a new person's keypoints one by one, in COCO order; the
status bar names the next type. Backspace skips a type, Enter ends the person.
"""

from __future__ import annotations

import numpy as np

from ...core.project import PersonRecord
from ...core.skeleton import K, KEYPOINT_NAMES
from ..commands import AddPerson, edit_person
from .base import Tool


class AddPersonTool(Tool):
    """Each click places the next keypoint of the person being added."""

    key, name, shortcut = "add_person", "Add person", "Q"
    hint = "Add person: click its keypoints in order."

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.person: int | None = None
        self.next = 0

    def prompt(self) -> str:
        return (f"Add person: click the {KEYPOINT_NAMES[self.next]} "
                f"({self.next + 1}/{K}; Backspace: skip it, Enter: done).")

    def activate(self) -> None:
        self.person, self.next = None, 0
        super().activate()

    def reset(self) -> None:
        self.person, self.next = None, 0

    def click(self, xy: np.ndarray, double: bool) -> bool:
        doc = self.ctx.doc
        if doc.image_id is None:
            self.ctx.message("Open a project image to add people.")
            return True
        if self.person is None or doc.resolve(self.person) not in doc.people:
            self._start(xy)
        else:
            keypoints = doc.person(self.person).keypoints.copy()
            keypoints[self.next] = (*xy, 2)
            self.ctx.stack.push(edit_person(doc, self.person, f"Place {KEYPOINT_NAMES[self.next]}",
                                            keypoints=keypoints))
        self.ctx.selection.select(self.person, self.next)
        self.back()
        return True

    def back(self) -> None:
        self.next += 1
        if self.next >= K:
            self.finish()
        else:
            self.ctx.message(self.prompt())

    def finish(self) -> None:
        if self.person is not None:
            self.ctx.message(f"Person #{self.ctx.doc.number(self.person)} added; click to add another.")
        self.person, self.next = None, 0

    def _start(self, xy: np.ndarray) -> None:
        keypoints = np.zeros((K, 3))
        keypoints[self.next] = (*xy, 2)
        command = AddPerson(self.ctx.doc, PersonRecord(keypoints, provenance="manual"))
        self.ctx.stack.push(command)
        self.person = command.person_id
