"""What the user picked among the document's people: one person and, optionally, one of
its keypoints. Cleared when that person goes away or the image changes.
"""

from __future__ import annotations

from PySide6 import QtCore

from .document import Document


class Selection(QtCore.QObject):
    """The selected person id and keypoint type (None: nothing)."""

    changed = QtCore.Signal()

    def __init__(self, doc: Document, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.person: int | None = None
        self.keypoint: int | None = None
        doc.image_changed.connect(self.clear)
        doc.person_removed.connect(self._removed)

    def select(self, person: int | None, keypoint: int | None = None) -> None:
        person = None if person is None else self.doc.resolve(person)
        keypoint = None if person is None else keypoint
        if (person, keypoint) != (self.person, self.keypoint):
            self.person, self.keypoint = person, keypoint
            self.changed.emit()

    def clear(self) -> None:
        self.select(None)

    def _removed(self, person: int) -> None:
        if person == self.person:
            self.clear()
