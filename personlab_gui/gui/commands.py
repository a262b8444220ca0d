"""Every edit of the annotations as a ``QUndoCommand``, all on one ``QUndoStack``.

A command captures what it changes when it is made and applies it through the
``Document`` (which writes through to the project). Before applying or reverting, it
returns the document to the image it was made on, so undo always shows what it undoes;
it runs inside ``Document.command()``, so nothing else edits the document or pushes onto
the stack meanwhile (the viewer follows the document's image once it has finished).
People are named by the id they had when the command was made (``Document.resolve``
follows them when undo brings them back under a new id). Moves of one keypoint within
one drag merge into one step; a brush stroke is painted as a preview and pushed once.
Editing a person's content makes a predicted (or accepted) person ``edited``.
"""

from __future__ import annotations

import copy

import numpy as np
from PySide6 import QtGui

from ..core.data.boxes import Box
from ..core.project import PersonRecord
from ..core.skeleton import KEYPOINT_NAMES
from .document import Document

#: ``QUndoCommand.id`` of keypoint moves (commands with one id may merge).
MOVE_KEYPOINT_ID = 1


def edited(provenance: str) -> str:
    """A person's provenance once the user changed its content."""
    return "edited" if provenance in ("predicted", "accepted") else provenance


class DocumentCommand(QtGui.QUndoCommand):
    """A command on one image of the document."""

    def __init__(self, doc: Document, text: str) -> None:
        super().__init__(text)
        self.doc = doc
        self.image_id = doc.image_id

    def redo(self) -> None:
        with self.doc.command():
            self.doc.set_image(self.image_id)
            self.apply()

    def undo(self) -> None:
        with self.doc.command():
            self.doc.set_image(self.image_id)
            self.revert()

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError


class EditPeople(DocumentCommand):
    """New values of some fields of some people (keypoints, provenance, crowd flag); undo
    also restores the box each person had (a box the geometry does not give, e.g. an
    imported one, is not recomputed away)."""

    def __init__(self, doc: Document, text: str, changes: dict[int, dict[str, object]]) -> None:
        super().__init__(doc, text)
        self.after = changes
        self.before = {person_id: {name: copy.copy(getattr(doc.person(person_id), name)) for name in [*fields, "bbox"]}
                       for person_id, fields in changes.items()}

    def apply(self) -> None:
        self._write(self.after)

    def revert(self) -> None:
        self._write(self.before)

    def _write(self, values: dict[int, dict[str, object]]) -> None:
        with self.doc.transaction():
            for person_id, fields in values.items():
                self.doc.update_person(person_id, **fields)


def edit_person(doc: Document, person_id: int, text: str, **fields: object) -> EditPeople:
    """A change of one person's content (a prediction becomes ``edited``)."""
    provenance = edited(doc.person(person_id).provenance)
    return EditPeople(doc, text, {person_id: {**fields, "provenance": provenance}})


class MoveKeypoint(EditPeople):
    """A keypoint moved (and labelled visible if it was not labelled); the moves of one
    drag merge."""

    def __init__(self, doc: Document, person_id: int, keypoint: int, xy: np.ndarray, drag: int) -> None:
        keypoints = doc.person(person_id).keypoints.copy()
        keypoints[keypoint, :2] = xy
        keypoints[keypoint, 2] = keypoints[keypoint, 2] or 2
        provenance = edited(doc.person(person_id).provenance)
        super().__init__(doc, f"Move {KEYPOINT_NAMES[keypoint]}",
                         {person_id: {"keypoints": keypoints, "provenance": provenance}})
        self.key = (person_id, keypoint, drag)

    def id(self) -> int:
        return MOVE_KEYPOINT_ID

    def mergeWith(self, other: QtGui.QUndoCommand) -> bool:
        if not isinstance(other, MoveKeypoint) or other.key != self.key:
            return False
        self.after = other.after
        return True


class PaintMask(DocumentCommand):
    """A person's mask changed inside a box (a stroke, a polygon, a fill, a basin, or a
    regenerated mask); the crops are kept bit-packed."""

    def __init__(self, doc: Document, person_id: int, box: Box, after: np.ndarray, text: str) -> None:
        super().__init__(doc, text)
        self.person_id, self.box, self.shape = person_id, box, after.shape
        self._before = np.packbits(doc.mask_crop(person_id, box))
        self._after = np.packbits(after)
        self.provenance, self.bbox = doc.person(person_id).provenance, doc.person(person_id).bbox

    def apply(self) -> None:
        self._write(self._after, provenance=edited(self.provenance))

    def revert(self) -> None:
        self._write(self._before, provenance=self.provenance, bbox=self.bbox)   # the box it had

    def _write(self, packed: np.ndarray, **fields: object) -> None:
        crop = np.unpackbits(packed, count=self.shape[0] * self.shape[1]).reshape(self.shape).astype(bool)
        self.doc.set_mask_region(self.person_id, self.box, crop, **fields)


class AddPerson(DocumentCommand):
    """A new person (added, or duplicated from another)."""

    def __init__(self, doc: Document, person: PersonRecord, text: str = "Add person") -> None:
        super().__init__(doc, text)
        self.person = person
        self.person_id: int | None = None   # known once applied

    def apply(self) -> None:
        self.person_id = self.doc.add_person(self.person, original=self.person_id)

    def revert(self) -> None:
        self.doc.remove_person(self.person_id)


class DeletePerson(DocumentCommand):
    """A person deleted."""

    def __init__(self, doc: Document, person_id: int) -> None:
        super().__init__(doc, f"Delete person #{doc.number(person_id)}")
        self.person_id = person_id
        self.person: PersonRecord | None = None

    def apply(self) -> None:
        self.person = self.doc.remove_person(self.person_id)

    def revert(self) -> None:
        self.doc.add_person(self.person, original=self.person_id)


class SetReview(DocumentCommand):
    """The current image marked reviewed or unreviewed."""

    def __init__(self, doc: Document, reviewed: bool) -> None:
        super().__init__(doc, "Mark reviewed" if reviewed else "Mark unreviewed")
        self.reviewed = reviewed

    def apply(self) -> None:
        self.doc.set_review(self.image_id, self.reviewed)

    def revert(self) -> None:
        self.doc.set_review(self.image_id, not self.reviewed)
