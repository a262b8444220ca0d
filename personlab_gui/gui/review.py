"""The review queue: the next unreviewed image (N), the image marked reviewed or not
(Space or R; undoable), the predicted person with the lowest score (L); and the image
list showing which project images are reviewed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from .actions import ActionRegistry, make_action
from .commands import SetReview
from .document import Document
from .panels.image_list import ImageListPanel
from .session import Session

REVIEWED_COLOR = QtGui.QColor(80, 200, 110)
UNREVIEWED_COLOR = QtGui.QColor(150, 150, 150)


class ReviewQueue(QtCore.QObject):
    """The review actions."""

    def __init__(self, doc: Document, stack: QtGui.QUndoStack, actions: ActionRegistry,
                 go_to_image: Callable[[int], None], show_person: Callable[[int], None],
                 message: Callable[[str], None]) -> None:
        super().__init__(actions.widget)
        self.doc, self.stack = doc, stack
        self._go_to_image, self._show_person, self._message = go_to_image, show_person, message
        self.actions = {
            "next_unreviewed": make_action(actions, "next_unreviewed", "&Next unreviewed image", "N",
                                           self.next_unreviewed),
            "toggle_reviewed": make_action(actions, "toggle_reviewed", "&Mark image reviewed (or not)",
                                           ["Space", "R"], self.toggle_reviewed),
            "lowest_score": make_action(actions, "lowest_score", "&Lowest-scored prediction", "L",
                                        self.lowest_score),
        }

    def next_unreviewed(self) -> None:
        """The first unreviewed image after the current one, wrapping around."""
        project = self.doc.project
        if project is None:
            self._message("Open a project first.")
            return
        image = (project.next_image(self.doc.image_id, unreviewed_only=True)
                 or project.next_image(None, unreviewed_only=True))
        if image is None:
            self._message("Every image is reviewed.")
        elif image == self.doc.image_id:
            self._message("This is the only unreviewed image.")
        else:
            self._go_to_image(image)

    def toggle_reviewed(self) -> None:
        if self.doc.image_id is None:
            self._message("Open a project image first.")
            return
        reviewed = not self.doc.reviewed()
        self.stack.push(SetReview(self.doc, reviewed))
        self._message("Image reviewed; N: next unreviewed." if reviewed else "Image marked unreviewed.")

    def lowest_score(self) -> None:
        """Show the predicted person with the lowest score on an unreviewed image."""
        found = self.doc.project.lowest_score_person() if self.doc.project is not None else None
        if found is None:
            self._message("No predictions left to check on unreviewed images.")
            return
        self._go_to_image(found[0])
        # showing the image may have stored newer predictions in place of the one found
        scored = [(p.score, i) for i, p in self.doc.people.items()
                  if p.provenance == "predicted" and p.score is not None]
        if not scored:
            self._message("No predictions left on this image.")
            return
        self._show_person(min(scored)[1])


class ReviewMarks(QtCore.QObject):
    """A green dot on each reviewed project image in the image list (grey ring: not yet),
    and the count in the list's title."""

    def __init__(self, doc: Document, session: Session, image_list: ImageListPanel,
                 image_id: Callable[[str], int | None], dock: QtWidgets.QDockWidget) -> None:
        super().__init__(image_list)
        self.doc, self.session, self.list, self.dock = doc, session, image_list.list, dock
        self._image_id = image_id
        self._title = dock.windowTitle()
        self._icons = {True: _dot(REVIEWED_COLOR, filled=True), False: _dot(UNREVIEWED_COLOR, filled=False)}
        session.pathsChanged.connect(self.refresh)   # after the panel rebuilt its rows
        doc.project_changed.connect(self.refresh)
        doc.review_changed.connect(self.refresh)

    def refresh(self) -> None:
        project = self.doc.project
        for row, path in enumerate(self.session.paths):
            image = self._image_id(path) if project is not None else None
            item = self.list.item(row)
            if item is not None:
                item.setIcon(self._icons[project.image(image).reviewed] if image is not None else QtGui.QIcon())
        title = self._title
        if project is not None:
            title += f" ({project.count_reviewed()}/{project.count_images()} reviewed)"
        self.dock.setWindowTitle(title)


def _dot(color: QtGui.QColor, filled: bool) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(12, 12)
    pixmap.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(pixmap)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    painter.setPen(QtGui.QPen(color, 2))
    painter.setBrush(color if filled else QtCore.Qt.BrushStyle.NoBrush)
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QtGui.QIcon(pixmap)
