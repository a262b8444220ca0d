"""The editable annotation model: the open project and the people of its current image.

Views listen to the signals and never change data; commands (``gui.commands``) call the
mutators, each of which writes through to the project before it returns, so a crash
loses no finished edit. Masks are decoded once per image and kept with a box known to
hold all their pixels, so a brush stroke re-encodes only that box (``core.data.rle``).

Person ids are the project's, which never reuses one: a person that undo brings back
gets a new id, and ``resolve`` maps every id it had before to the current one; ``number``
is the id a person had first, the one number (and colour) it shows for its whole life.

While an undo command runs (``command()``), listeners must not start other edits or move
the viewer to another image: ``in_command`` tells them to wait until it has finished.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from pycocotools import mask as mask_utils
from PySide6 import QtCore

from ..core.data.boxes import Box, nonzero_box, slices, union
from ..core.project import PersonRecord, Project
from ..core.data.rle import box_rle


class Document(QtCore.QObject):
    """The current project, image and people; every change is announced."""

    project_changed = QtCore.Signal()          # a project was opened or closed
    image_changed = QtCore.Signal(int)         # image id (-1: none)
    person_added = QtCore.Signal(int)
    person_removed = QtCore.Signal(int)
    person_changed = QtCore.Signal(int)        # any field, the mask included
    mask_changed = QtCore.Signal(int, object)  # person id, the Box that changed
    review_changed = QtCore.Signal(int, bool)  # image id, reviewed

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.image_id: int | None = None
        self.image_hw: tuple[int, int] = (0, 0)
        self.people: dict[int, PersonRecord] = {}
        self._masks: dict[int, np.ndarray | None] = {}
        self._boxes: dict[int, Box | None] = {}
        self._aliases: dict[int, int] = {}
        self._numbers: dict[int, int] = {}   # current id -> the id the person had first
        self._commands = 0

    # -- project and image -------------------------------------------------------------
    def open_project(self, project: Project) -> None:
        """Edit ``project`` (closing the one open before)."""
        self.close_project()
        self.project = project
        self.project_changed.emit()

    def close_project(self) -> None:
        if self.project is None:
            return
        self.set_image(None)
        self.project.close()
        self.project, self._aliases, self._numbers = None, {}, {}
        self.project_changed.emit()

    def set_image(self, image_id: int | None, reload: bool = False) -> None:
        """Make ``image_id`` (of the project; None: none) the current image."""
        if image_id == self.image_id and not reload:
            return
        self.image_id = image_id
        self.people = self.project.people(image_id) if image_id is not None else {}
        self._masks, self._boxes = {}, {}
        record = self.project.image(image_id) if image_id is not None else None
        self.image_hw = (record.height, record.width) if record is not None else (0, 0)
        self.image_changed.emit(-1 if image_id is None else image_id)

    def reviewed(self) -> bool:
        return self.image_id is not None and self.project.image(self.image_id).reviewed

    def set_review(self, image_id: int, reviewed: bool) -> None:
        self.project.set_review(image_id, reviewed)
        self.review_changed.emit(image_id, reviewed)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several mutations into one project transaction."""
        with self.project.transaction():
            yield

    @contextmanager
    def command(self) -> Iterator[None]:
        """Mark the run of one undo command (``in_command`` is True meanwhile)."""
        self._commands += 1
        try:
            yield
        finally:
            self._commands -= 1

    @property
    def in_command(self) -> bool:
        """Whether an undo command is changing the document right now."""
        return self._commands > 0

    # -- reading people ----------------------------------------------------------------
    def resolve(self, person_id: int) -> int:
        """The current id of a person known by an earlier id."""
        while person_id in self._aliases:
            person_id = self._aliases[person_id]
        return person_id

    def number(self, person_id: int) -> int:
        """The number a person shows everywhere: the id it had first (undo may have
        re-created it under a new id since)."""
        person_id = self.resolve(person_id)
        return self._numbers.get(person_id, person_id)

    def person(self, person_id: int) -> PersonRecord:
        """A person of the current image (``KeyError`` otherwise)."""
        return self.people[self.resolve(person_id)]

    def mask(self, person_id: int) -> np.ndarray | None:
        """The person's (H, W) bool mask (shared: do not modify), or None."""
        person_id = self.resolve(person_id)
        if person_id not in self._masks:
            rle = self.people[person_id].mask_rle
            mask = None if rle is None else np.ascontiguousarray(mask_utils.decode(rle), dtype=bool)
            box = None if rle is None else _rle_box(rle)
            self._masks[person_id], self._boxes[person_id] = mask, box
        return self._masks[person_id]

    def mask_box(self, person_id: int) -> Box | None:
        """A box holding every pixel of the person's mask (None without a mask)."""
        self.mask(person_id)
        return self._boxes[self.resolve(person_id)]

    def mask_crop(self, person_id: int, box: Box) -> np.ndarray:
        """A copy of the mask inside ``box`` (all False without a mask)."""
        mask = self.mask(person_id)
        if mask is None:
            return np.zeros((box[3] - box[1], box[2] - box[0]), bool)
        return mask[slices(box)].copy()

    # -- changing people ---------------------------------------------------------------
    def add_person(self, person: PersonRecord, original: int | None = None) -> int:
        """Store a new person on the current image; ``original``: the id it had before
        (it is removed and coming back). Returns its id."""
        person_id = self.project.add_person(self.image_id, person)
        if original is not None:
            self._numbers[person_id] = self.number(original)
            self._aliases[self.resolve(original)] = person_id
        self.people[person_id] = self.project.person(person_id)
        self.person_added.emit(person_id)
        return person_id

    def remove_person(self, person_id: int) -> PersonRecord:
        """Delete a person; returns what it was."""
        person_id = self.resolve(person_id)
        self.project.delete_person(person_id)
        record = self.people.pop(person_id)
        self._masks.pop(person_id, None)
        self._boxes.pop(person_id, None)
        self.person_removed.emit(person_id)
        return record

    def update_person(self, person_id: int, **fields: object) -> None:
        """Change ``PersonRecord`` fields of a person (its box follows its geometry)."""
        person_id = self._write(person_id, fields)
        if "mask_rle" in fields:
            self._masks.pop(person_id, None)
        self.person_changed.emit(person_id)

    def set_mask_region(self, person_id: int, box: Box, crop: np.ndarray, **fields: object) -> None:
        """Set the person's mask inside ``box`` to ``crop`` (and other ``fields``)."""
        person_id = self.resolve(person_id)
        mask = self.mask(person_id)
        if mask is None:
            mask = np.zeros(self.image_hw, bool)
        mask[slices(box)] = crop
        bound = union(self._boxes[person_id], box)
        tight = nonzero_box(mask[slices(bound)], bound[:2])
        rle = None if tight is None else box_rle(mask[slices(tight)], tight, self.image_hw)
        self._write(person_id, {**fields, "mask_rle": rle})
        self._masks[person_id] = None if tight is None else mask
        self._boxes[person_id] = tight
        self.person_changed.emit(person_id)
        self.mask_changed.emit(person_id, box)

    def replace_predictions(self, people: list[PersonRecord], model: str, settings: dict) -> list[int] | None:
        """Store the model's people as the image's predictions (not an edit: no undo step);
        None when the image holds them already or takes none (``Project.replace_predictions``).
        Returns the ids of the predictions they replaced."""
        new_ids = self.project.replace_predictions(self.image_id, people, model, settings)
        if new_ids is None:
            return None
        removed = [i for i, p in self.people.items() if p.provenance == "predicted"]
        for person_id in removed:
            del self.people[person_id]
            self._masks.pop(person_id, None)
            self._boxes.pop(person_id, None)
            self.person_removed.emit(person_id)
        for person_id in new_ids:
            self.people[person_id] = self.project.person(person_id)
            self.person_added.emit(person_id)
        return removed

    def _write(self, person_id: int, fields: dict[str, object]) -> int:
        """Store new field values (the box following the geometry unless ``fields`` give
        it: undo restores the box a person had); returns the current id."""
        person_id = self.resolve(person_id)
        person = dataclasses.replace(self.people[person_id], **fields)
        if "bbox" not in fields:
            person.bbox = person.geometry_bbox() or person.bbox
        self.project.update_person(person_id, **{**fields, "bbox": person.bbox})
        self.people[person_id] = person
        return person_id


def _rle_box(rle: dict) -> Box | None:
    x, y, w, h = (int(round(v)) for v in mask_utils.toBbox(rle))
    return (x, y, x + w, y + h) if w and h else None
