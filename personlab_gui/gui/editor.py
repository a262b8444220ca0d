"""Correcting labels in the main window: the project document, the one undo stack and
its history view, the canvas tools and editing actions, the review queue and the project
files, wired to the viewer's session (which image is shown, the model's result).

The session stays the viewer's model of what is on screen; with a project open its image
list is the project's images, and the document follows the session's current image (and
the session follows the document when undo or the review queue changes image). A model
result arriving for a project image stores its people as predictions (``predictions``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..core.project import Project
from ..core.decoding.result import InferenceResult
from ..core.skeleton import K
from .actions import ActionRegistry, make_action
from .canvas import Canvas
from .document import Document
from .edit_actions import EditActions
from .layers.annotations import AnnotationView
from .layers.mask_overlay import MaskOverlay
from .panels.editing_panel import EditingPanel
from .predictions import prediction_records, settings_record
from .inference import InferenceService
from .project_files import ProjectFiles
from .review import ReviewQueue
from .selection import Selection
from .session import Session
from .tools import ToolContext, ToolSurface, make_tools
from .tools.brush_settings import BrushSettings
from .tools.keypoints import KeypointTool

#: A decoded person carries the number of a project person sharing at least this many of
#: its keypoint positions (a stored prediction, maybe edited since).
SAME_PERSON_KEYPOINTS = K // 2 + 1
#: Room around a person the view zooms to, as a fraction of its box.
PERSON_PADDING = 0.6
UNDO_KEYS, REDO_KEYS = "Ctrl+Z", "Ctrl+Shift+Z"


class Editor(QtCore.QObject):
    """Owns the editing model, views, tools and actions; the window places its widgets
    (``panel``, ``history``) and actions in docks and menus."""

    projectOpened = QtCore.Signal()
    numbersChanged = QtCore.Signal(object)    # decoded index -> project number, or None
    labelledChanged = QtCore.Signal(object)   # labelled people on the image, or None

    def __init__(self, session: Session, canvas: Canvas, service: InferenceService, actions: ActionRegistry,
                 last_folder: Callable[[], str], message: Callable[[str], None]) -> None:
        super().__init__(actions.widget)
        self.session, self.canvas, self.service, self.actions = session, canvas, service, actions
        self.message = message
        self.doc = Document(self)
        self.stack = QtGui.QUndoStack(self)
        self.selection = Selection(self.doc, self)
        self.brush = BrushSettings(self)
        self.overlay = MaskOverlay(self.doc, self.selection, self)
        self.annotations = AnnotationView(self.doc, self.selection, self)
        self.surface = ToolSurface()
        for item in (self.overlay.texture, *self.annotations.items, self.surface):
            canvas.view.addItem(item, ignoreBounds=True)
        self.ctx = ToolContext(self.doc, self.stack, self.selection, self.overlay, self.brush, canvas.view,
                               self.result, canvas.pixel_size, message, self._context_menu,
                               self.annotations.skeletons.label_at)
        self.tools = make_tools(self.ctx)
        self.tool = self.tools[KeypointTool.key]
        self.edits = EditActions(self.ctx, actions, self.place_keypoint, lambda: service.settings.mask_assignment)
        self.review = ReviewQueue(self.doc, self.stack, actions, self.go_to_image, self.show_person, message)
        self.files = ProjectFiles(actions, self.doc, last_folder, message)
        self._image_ids: dict[str, int] = {}
        self._named: tuple = (None, None)   # the result and numbers the panels show
        self._make_actions()
        self.panel = EditingPanel(self.tool_actions.actions(), self.brush)
        self.history = QtWidgets.QUndoView(self.stack)
        self.history.setEmptyLabel("(no edits yet)")
        self._connect()
        self.set_tool(KeypointTool.key)

    # -- construction --------------------------------------------------------------------
    def _make_actions(self) -> None:
        a = self.actions
        self.tool_actions = QtGui.QActionGroup(self)
        for key, tool in self.tools.items():
            action = make_action(a, f"tool_{key}", tool.name, tool.shortcut, lambda k=key: self.set_tool(k),
                                 f"Tool: {tool.name}")
            action.setCheckable(True)
            self.tool_actions.addAction(action)
        make_action(a, "tool_finish", "&Finish (close polygon, end person)", ["Return", "Enter"],
                    lambda: self.tool.finish())
        make_action(a, "tool_back", "Step &back (last corner, skip keypoint)", "Backspace", lambda: self.tool.back())
        make_action(a, "brush_smaller", "&Smaller brush", "[", self.brush.shrink)
        make_action(a, "brush_larger", "&Larger brush", "]", self.brush.grow)
        for name, make, keys in (("undo", self.stack.createUndoAction, UNDO_KEYS),
                                 ("redo", self.stack.createRedoAction, REDO_KEYS)):
            action = make(a.widget, f"&{name.capitalize()}")
            action.setShortcut(QtGui.QKeySequence(keys))
            a.widget.addAction(action)
            a[name] = action

    def _connect(self) -> None:
        self.session.currentChanged.connect(self._follow_session)
        self.session.resultChanged.connect(self._store_predictions)
        self.doc.image_changed.connect(self._follow_document)
        self.doc.project_changed.connect(self._project_changed)
        for signal in (self.selection.changed, self.doc.person_changed, self.doc.review_changed):
            signal.connect(self._show_selection)
        for signal in (self.doc.image_changed, self.doc.person_added, self.doc.person_removed,
                       self.doc.person_changed, self.doc.project_changed, self.session.resultChanged):
            signal.connect(self._name_people)
        self.files.opened.connect(self.open_project)
        self.files.imported.connect(self._imported)
        self.files.relocated.connect(self._reload_images)
        self.canvas.hovered.connect(lambda xy: self.tool.hover(xy))
        self.panel.keypointChosen.connect(self.place_keypoint)
        self.panel.masksShown.connect(self.overlay.texture.setVisible)

    # -- projects ------------------------------------------------------------------------
    def open_project(self, project: Project) -> None:
        """Edit ``project``: its images become the image list."""
        self.stack.clear()
        self.doc.open_project(project)
        self._reload_images()
        self.projectOpened.emit()

    def _reload_images(self) -> None:
        project, current = self.doc.project, self.session.current_path
        ids = project.image_ids()
        paths = [str(project.image_file(i).resolve()) for i in ids]
        self._image_ids.clear()
        self._image_ids.update(zip(paths, ids))
        self.session.replace_paths(paths)
        if current in self._image_ids:
            self.session.set_index(paths.index(current))
        self.doc.set_image(self._image_ids.get(self.session.current_path), reload=True)

    def _imported(self) -> None:
        """Imported people replace the model's predictions on their images (outside the undo
        stack), so steps that edit those predictions cannot be undone or redone any more."""
        self.stack.clear()
        self._reload_images()

    def _project_changed(self) -> None:
        if self.doc.project is None:
            self.stack.clear()
            self._image_ids.clear()
        self._show_selection()

    def image_id(self, path: str) -> int | None:
        """The project image shown from ``path``, if any."""
        return self._image_ids.get(path)

    # -- following the session -----------------------------------------------------------
    def _follow_session(self, _index: int) -> None:
        self.doc.set_image(self._image_ids.get(self.session.current_path))

    def _follow_document(self, image_id: int) -> None:
        self.surface.set_extent(self.doc.image_hw)
        self.tool.reset()   # unfinished work (a stroke, corners) belongs to the last image
        if self.doc.in_command:  # the viewer (and what it triggers) waits for the command to end
            QtCore.QTimer.singleShot(0, self, self._show_document_image)
        else:
            self._show_document_image()
        self._show_selection()

    def _show_document_image(self) -> None:
        """Show the document's image in the viewer."""
        path = next((p for p, i in self._image_ids.items() if i == self.doc.image_id), None)
        if path is not None and path != self.session.current_path:
            self.session.set_index(self.session.paths.index(path))

    def go_to_image(self, image_id: int) -> None:
        self.doc.set_image(image_id)

    def result(self) -> InferenceResult | None:
        """The model's result for the document's image, if it has arrived."""
        result = self.session.result
        on_image = self.doc.image_id is not None and self._image_ids.get(self.session.current_path) == self.doc.image_id
        return result if on_image and result is not None and result.image_hw == self.doc.image_hw else None

    def _store_predictions(self, _result: InferenceResult | None) -> None:
        """Store the model's labels as the image's predictions, once per model and settings.
        Not an edit, so no undo step; a redo that would edit replaced predictions is dropped."""
        result, engine = self.result(), self.service.engine
        if result is None or engine is None:
            return
        record = settings_record(self.service.settings)
        if not self.doc.project.wants_predictions(self.doc.image_id, engine.model_name, record):
            return
        user = [p for p in self.doc.people.values() if p.provenance != "predicted"]
        people = prediction_records(result, user)
        replaced = self.doc.replace_predictions(people, engine.model_name, record)
        if replaced and self.stack.canRedo():
            self.stack.clear()

    # -- tools and selection -------------------------------------------------------------
    def set_tool(self, key: str) -> None:
        self.tool.deactivate()
        self.tool = self.surface.tool = self.tools[key]
        self.actions[f"tool_{key}"].setChecked(True)
        self.tool.activate()

    def place_keypoint(self, keypoint: int) -> None:
        """Arm the keypoint tool to place ``keypoint`` on the selected person."""
        self.set_tool(KeypointTool.key)
        self.tools[KeypointTool.key].arm(keypoint)

    def show_person(self, person_id: int) -> None:
        """Select a person of the current image and zoom to it."""
        self.selection.select(person_id)
        x, y, w, h = self.doc.person(person_id).bbox
        pad = PERSON_PADDING * max(w, h, 50.0)
        self.canvas.view.setRange(QtCore.QRectF(x - pad, y - pad, w + 2 * pad, h + 2 * pad), padding=0)

    def _name_people(self, *_) -> None:
        """One number per person: the viewer's panels and layers name (and colour) decoded
        people by the project numbers of their predictions; the status bar counts the image's
        labels."""
        doc, result = self.doc, self.result()
        self.labelledChanged.emit(len(doc.people) if doc.image_id is not None else None)
        numbers = None if doc.project is None else decoded_numbers(result, doc)
        if result is not self._named[0] or numbers != self._named[1]:   # drags change people often
            self._named = (result, numbers)
            self.numbersChanged.emit(numbers)

    def _context_menu(self) -> QtWidgets.QMenu | None:
        return self.edits.menu()

    def _show_selection(self) -> None:
        self.panel.show_info(self._selection_text())

    def _selection_text(self) -> str:
        doc = self.doc
        if doc.project is None:
            return "No project open: File > New project or Open project."
        if doc.image_id is None:
            return "This image is not in the project."
        image = doc.project.image(doc.image_id)
        lines = [f"{Path(image.path).name}: {'reviewed' if image.reviewed else 'not reviewed'}, "
                 f"{len(doc.people)} people"]
        person = self.selection.person
        if person is not None and person in doc.people:
            record = doc.people[person]
            score = "" if record.score is None else f", score {record.score:.2f}"
            lines.append(f"Person #{doc.number(person)}: {record.provenance}{score}"
                         f"{', crowd' if record.iscrowd else ''}, "
                         f"{int((record.keypoints[:, 2] > 0).sum())} keypoints, mask area {record.mask_area()}")
        return "\n".join(lines)


def decoded_numbers(result: InferenceResult | None, doc: Document) -> dict[int, int]:
    """Decoded index -> number of the project person stored from it (sharing most keypoints)."""
    numbers: dict[int, int] = {}
    for j, person in enumerate(result.people if result is not None else []):
        for person_id, record in doc.people.items():
            same = np.hypot(*(record.keypoints[:, :2] - person.keypoints[:, :2]).T) < 0.5
            if record.model is not None and same.sum() >= SAME_PERSON_KEYPOINTS:
                numbers[j] = doc.number(person_id)
                break
    return numbers
