"""The File menu's project actions: New project (a ``.plab`` file and an image folder
whose images it adds; the file appears only once complete), Open project (asking for
the image folder when the images moved), Relocate images (re-point the project at the
folder its images moved to), Import COCO (a file and its image folder; people imported
before into the same images are added again only when the user says so) and Export COCO
(reviewed images only or all, masks as polygons or RLE; the export checks itself before
writing). Every failure, a damaged or locked project file included, is a one-line message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6 import QtCore, QtWidgets

from ..core.errors import InputError
from ..core.data.image_io import list_images
from ..core.project import Project, database_errors
from ..core.project.coco import CocoCounts, DuplicateImportError, export_coco, import_coco
from .actions import ActionRegistry, make_action
from .document import Document

PROJECT_FILTER = "PersonLab projects (*.plab)"
COCO_FILTER = "COCO JSON (*.json)"
T = TypeVar("T")


class ProjectFiles(QtCore.QObject):
    """The actions, their dialogs, and what they do (callable without dialogs too)."""

    opened = QtCore.Signal(object)   # a Project to edit
    imported = QtCore.Signal()       # images or people were added to the open project
    relocated = QtCore.Signal()      # the open project's images are read from another folder

    def __init__(self, actions: ActionRegistry, doc: Document, folder: Callable[[], str],
                 message: Callable[[str], None]) -> None:
        super().__init__(actions.widget)
        self._parent, self.doc, self._folder, self._message = actions.widget, doc, folder, message
        self.actions = {
            "new_project": make_action(actions, "new_project", "&New project…", None, self._new_dialog),
            "open_project": make_action(actions, "open_project", "Open pro&ject…", "Ctrl+Shift+J",
                                        self._open_dialog),
            "relocate_images": make_action(actions, "relocate_images", "&Relocate images…", None,
                                           self._relocate_dialog),
            "import_coco": make_action(actions, "import_coco", "&Import COCO…", None, self._import_dialog),
            "export_coco": make_action(actions, "export_coco", "&Export COCO…", "Ctrl+E", self._export_dialog),
            "close_project": make_action(actions, "close_project", "&Close project", None, doc.close_project),
        }

    # -- what the actions do -------------------------------------------------------------
    def create(self, path: str, folder: str) -> bool:
        """A new project at ``path`` with the images of ``folder``; opens it."""
        def build() -> tuple[Project, int]:
            with Project.build(path, folder) as built:
                skipped = _add_images(built, list_images([folder]))
            return Project.open(path), skipped

        outcome = self._attempt(path, build)
        if outcome is None:
            return False
        project, skipped = outcome
        self._message(f"New project {Path(path).name}: {project.count_images()} images"
                      + (f" ({skipped} unreadable files skipped)" if skipped else ""))
        self.opened.emit(project)
        return True

    def open(self, path: str) -> bool:
        project = self._attempt(path, lambda: Project.open(path))
        if project is None:
            return False
        self.opened.emit(project)
        if project.images_missing():
            self._message(f"The images are not in {project.image_root}: File > Relocate images… "
                          "to show where they are now.")
        return True

    def relocate(self, folder: str) -> bool:
        """Re-point the open project at ``folder``, where its images are now."""
        if not self._has_project():
            return False
        found = self._attempt(self.doc.project.path, lambda: self.doc.project.set_image_root(folder))
        if found is None:
            return False
        self._message(f"Images now read from {folder}: {found} of {self.doc.project.count_images()} found.")
        self.relocated.emit()
        return True

    def import_coco(self, coco: str, folder: str, add_duplicates: bool = False) -> bool:
        """Import; when its people were imported before, ``ask_to_add_duplicates`` decides."""
        if not self._has_project():
            return False
        project = self.doc.project

        def work() -> CocoCounts | DuplicateImportError:
            try:
                return import_coco(project, coco, folder, add_duplicates)
            except DuplicateImportError as exc:   # a question, not an error
                return exc

        counts = self._attempt(project.path, work)
        if isinstance(counts, DuplicateImportError):
            if self.ask_to_add_duplicates(Path(coco).name, counts.count, counts.total):
                return self.import_coco(coco, folder, add_duplicates=True)
            self._message(f"Not imported: the people of {Path(coco).name} are already in the project.")
            return False
        if counts is None:
            return False
        self._message(f"Imported {counts.images} images and {counts.people} people from {Path(coco).name}.")
        self.imported.emit()
        return True

    def ask_to_add_duplicates(self, name: str, count: int, total: int) -> bool:
        """Whether to import people that were imported into the same images before."""
        answer = QtWidgets.QMessageBox.question(
            self._parent, "Import COCO",
            f"{count} of the {total} people in {name} were imported into these images before "
            "(same annotation ids). Import them again? They would be in the project twice.",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def export(self, path: str, reviewed_only: bool, rle: bool) -> bool:
        if not self._has_project():
            return False
        counts = self._attempt(self.doc.project.path, lambda: export_coco(self.doc.project, path, reviewed_only, rle))
        if counts is None:
            return False
        left_out = f" Left out: {'; '.join(counts.warnings)}." if counts.warnings else ""
        self._message(f"Exported {counts.images} images and {counts.people} people to {path}.{left_out}")
        return True

    def _attempt(self, path: str | Path, work: Callable[[], T]) -> T | None:
        """``work()``, its SQLite errors on ``path`` as one line; None, the line shown in the
        status bar, when a bad input stops it."""
        try:
            with database_errors(path):
                return work()
        except InputError as exc:
            self._message(str(exc))
            return None

    def _has_project(self) -> bool:
        if self.doc.project is None:
            self._message("Open or create a project first.")
        return self.doc.project is not None

    # -- dialogs -------------------------------------------------------------------------
    def _new_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self._parent, "New project", self._folder(),
                                                        PROJECT_FILTER)
        if not path:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self._parent, "The project's image folder",
                                                            str(Path(path).parent))
        if folder:
            self.create(path if path.endswith(".plab") else f"{path}.plab", folder)

    def _open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self._parent, "Open project", self._folder(),
                                                        PROJECT_FILTER)
        if path and self.open(path) and self.doc.project.images_missing():
            self._relocate_dialog()

    def _relocate_dialog(self) -> None:
        if not self._has_project():
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self._parent, f"Where are the images of {self.doc.project.path.name} now?",
            str(self.doc.project.path.parent))
        if folder:
            self.relocate(folder)

    def _import_dialog(self) -> None:
        if not self._has_project():
            return
        coco, _ = QtWidgets.QFileDialog.getOpenFileName(self._parent, "Import COCO", self._folder(), COCO_FILTER)
        if not coco:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self._parent, "The COCO file's image folder",
                                                            str(self.doc.project.image_root))
        if folder:
            self.import_coco(coco, folder)

    def _export_dialog(self) -> None:
        if not self._has_project():
            return
        options = ExportOptions(self._parent)
        if options.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self._parent, "Export COCO", self._folder(), COCO_FILTER)
        if path:
            self.export(path, options.reviewed_only.isChecked(), options.rle.isChecked())


class ExportOptions(QtWidgets.QDialog):
    """Which images, and how masks are written."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export COCO")
        self.reviewed_only = QtWidgets.QCheckBox("Reviewed images only")
        self.reviewed_only.setChecked(True)
        self.rle = QtWidgets.QCheckBox("Masks as RLE (else polygons)")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        for widget in (self.reviewed_only, self.rle, buttons):
            layout.addWidget(widget)


def _add_images(project: Project, files: list[Path]) -> int:
    """Add ``files`` (one transaction; one at a time if some cannot be added); returns how
    many were skipped."""
    try:
        project.add_images(files)
        return 0
    except InputError:
        skipped = 0
        for file in files:
            try:
                project.add_images([file])
            except InputError:
                skipped += 1
        return skipped
