"""The main window: wires the session (model), the inference service (workers) and the
views (canvas, image list, layers, inspector, trace, settings, status bar), and owns the
menus, shortcuts, drag-and-drop and what is remembered between sessions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..core.inference.engine import Engine, InferenceSettings
from ..core.data.image_io import IMAGE_SUFFIXES
from ..core.decoding.result import InferenceResult
from .actions import ActionRegistry, make_action
from .canvas import ZOOM_STEP, Canvas
from .editor import Editor
from .inference import InferenceService
from .layers import make_layers
from .layers.people import nearest_keypoint
from .panels.image_list import ImageListPanel
from .panels.inspector import InspectorPanel
from .panels.layers_panel import LayersPanel
from .panels.settings_panel import SettingsPanel
from .panels.trace_panel import TracePanel
from .preferences import Preferences
from .review import ReviewMarks
from .session import Session
from .shortcuts import ShortcutsDialog
from .status_bar import StatusBar
from .training import install_training_tab
from .widgets import VerticalScroll, guard_wheel

TITLE = "PersonLab Studio"
#: Clicking within this many screen pixels of a decoded keypoint selects its person.
PICK_SCREEN_PX = 10.0
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)))

#: Viewer layers hidden while a project is open (the editor draws the people instead).
RESULT_PEOPLE_LAYERS = ("people", "masks")
#: Bump when the set or arrangement of docks changes, so an older saved layout is not restored.
DOCK_LAYOUT_VERSION = 2
#: Docks whose forms scroll when the window is too low for them (the others hold lists and tables).
SCROLLED_DOCKS = ("Settings", "Editing")
#: The window's first size, within a 1366 x 768 screen (a saved geometry replaces it),
#: and its docks' first sizes (a saved layout replaces them; Qt scales them to the window).
FIRST_SIZE = (1360, 700)
FIRST_DOCK_SIZES = ((("Images", "Layers"), (270, 360), QtCore.Qt.Orientation.Horizontal),
                    (("Images", "Settings", "Decoding trace"), (170, 330, 180), QtCore.Qt.Orientation.Vertical),
                    (("Layers", "Inspector"), (400, 280), QtCore.Qt.Orientation.Vertical))


class MainWindow(QtWidgets.QMainWindow):
    """PersonLab Studio's viewer window."""

    def __init__(self, preferences: Preferences | None = None) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.prefs = preferences or Preferences()
        self.session = Session(self)
        self.service = InferenceService(self)
        self.layers = make_layers()
        for key, layer in self.layers.items():
            layer.restore(self.prefs.layer_state(key))
        self.canvas = Canvas(self.layers)
        self.setCentralWidget(self.canvas)
        self.actions_by_name = ActionRegistry(self)
        self._make_actions()
        self.status = StatusBar(self.actions_by_name["cancel"])
        self.setStatusBar(self.status)
        self._hover: np.ndarray | None = None   # last image pixel under the mouse
        self._make_panels()
        self._make_menus()
        self._connect()
        self.editor = Editor(self.session, self.canvas, self.service, self.actions_by_name,
                             self.prefs.last_folder, self.status.showMessage)
        self._install_editor()
        self.training_page = install_training_tab(self, self.settings_panel, self.service, self.editor.doc)
        self.training = self.training_page.panel
        for name in SCROLLED_DOCKS:
            self.docks[name].setWidget(VerticalScroll(self.docks[name].widget()))
        guard_wheel(self)
        self.setAcceptDrops(True)
        self._restore_window()
        model, device, backend = self.prefs.model()
        self.service.set_settings(self.settings_panel.current())
        self.service.load_model(model, device, backend)
        self.status.showMessage(f"Loading model {model}…")

    # -- construction --------------------------------------------------------------------
    def _make_actions(self) -> None:
        s, add = self.session, lambda *args: make_action(self.actions_by_name, *args)  # noqa: E731
        add("open", "&Open images…", QtGui.QKeySequence.StandardKey.Open, self.open_files_dialog)
        add("open_folder", "Open &folder…", "Ctrl+Shift+O", self.open_folder_dialog)
        add("quit", "&Quit", QtGui.QKeySequence.StandardKey.Quit, self.close)
        add("next", "&Next image", "PgDown", lambda: s.step(1))
        add("previous", "&Previous image", "PgUp", lambda: s.step(-1))
        add("trace_next", "Next trace step", ".", lambda: s.set_trace_step(s.trace_step + 1))
        add("trace_previous", "Previous trace step", ",", lambda: s.set_trace_step(s.trace_step - 1))
        add("fit", "&Fit to window", "F", self.canvas.fit)
        add("zoom_in", "Zoom &in", "+", lambda: self.canvas.zoom(ZOOM_STEP))
        add("zoom_out", "Zoom &out", "-", lambda: self.canvas.zoom(1 / ZOOM_STEP))
        add("cancel", "&Cancel inference", "Esc", self._cancel)
        add("rerun", "&Run again", "F5", self.service.rerun,
                     "Run inference on the current image again")
        add("shortcuts", "&Keyboard shortcuts", "F1", self.show_shortcuts)
        for key, layer in self.layers.items():
            add(f"layer_{key}", f"Show {layer.name}", layer.shortcut,
                         lambda _=False, k=key: self.layers_panel.toggle(k), f"Toggle layer: {layer.name}")

    def _make_panels(self) -> None:
        a = self.actions_by_name
        self.image_list = ImageListPanel(self.session, [a["open"], a["open_folder"]])
        self.layers_panel = LayersPanel(self.layers)
        self.inspector = InspectorPanel()
        self.trace_panel = TracePanel()
        self.settings_panel = SettingsPanel(self.prefs.inference_settings(), *self.prefs.model())
        left = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        self.docks = {}
        for name, widget, area in (("Images", self.image_list, left), ("Settings", self.settings_panel, left),
                                   ("Layers", self.layers_panel, right), ("Inspector", self.inspector, right),
                                   ("Decoding trace", self.trace_panel, left)):
            dock = QtWidgets.QDockWidget(name, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock

    def _make_menus(self) -> None:
        a, bar = self.actions_by_name, self.menuBar()
        self.file_menu = file = bar.addMenu("&File")
        file.addActions([a["open"], a["open_folder"]])
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        file.addAction(a["quit"])
        self.go_menu = go = bar.addMenu("&Go")
        go.addActions([a[n] for n in ("next", "previous", "trace_next", "trace_previous")])
        self.view_menu = view = bar.addMenu("&View")
        view.addActions([a[n] for n in ("fit", "zoom_in", "zoom_out")])
        view.addSeparator()
        view.addActions([a[f"layer_{k}"] for k in self.layers])
        view.addSeparator()
        view.addActions([d.toggleViewAction() for d in self.docks.values()])
        run = bar.addMenu("&Inference")
        run.addActions([a["cancel"], a["rerun"]])
        bar.addMenu("&Help").addAction(a["shortcuts"])

    def _install_editor(self) -> None:
        """The editor's docks (tabbed with Settings and Inspector), review marks and menus."""
        e, a, bar = self.editor, self.actions_by_name, self.menuBar()
        for name, widget, beside in (("Editing", e.panel, "Settings"), ("History", e.history, "Inspector")):
            dock = QtWidgets.QDockWidget(name, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(self.dockWidgetArea(self.docks[beside]), dock)
            self.tabifyDockWidget(self.docks[beside], dock)
            self.docks[beside].raise_()      # the editor's docks come forward with a project
            self.docks[name] = dock
        self.review_marks = ReviewMarks(e.doc, self.session, self.image_list, e.image_id, self.docks["Images"])
        self.file_menu.insertActions(a["quit"], list(e.files.actions.values()))
        self.file_menu.insertSeparator(a["quit"])
        for title, groups in (("&Edit", ([a["undo"], a["redo"]], list(e.edits.actions.values()))),
                              ("&Tools", (e.tool_actions.actions(),
                                          [a[n] for n in ("tool_finish", "tool_back", "brush_smaller", "brush_larger")])),
                              ("&Review", (list(e.review.actions.values()),))):
            menu = QtWidgets.QMenu(title, bar)
            for i, group in enumerate(groups):
                if i:
                    menu.addSeparator()
                menu.addActions(group)
            bar.insertMenu(self.go_menu.menuAction(), menu)
        self.view_menu.addActions([self.docks[n].toggleViewAction() for n in ("Editing", "History")])
        e.projectOpened.connect(self._project_opened)
        e.labelledChanged.connect(self.status.show_labelled)
        e.numbersChanged.connect(self._show_numbers)

    def _connect(self) -> None:
        s, svc = self.session, self.service
        s.currentChanged.connect(self._current_changed)
        s.imageChanged.connect(self.canvas.set_image)
        s.resultChanged.connect(self._result_changed)
        s.personSelected.connect(self._person_selected)
        s.probeChanged.connect(self._probe_changed)
        s.traceStepChanged.connect(self._trace_step_changed)
        svc.imageLoaded.connect(s.set_image)
        svc.imageLoaded.connect(lambda path, _image: self.image_list.mark_loaded(path))
        svc.imageFailed.connect(self._image_failed)
        svc.resultReady.connect(s.set_result)
        svc.inferenceFailed.connect(lambda path, message: self.show_error(f"Inference failed: {message}"))
        svc.engineReady.connect(self._engine_ready)
        svc.engineFailed.connect(self._engine_failed)
        svc.progress.connect(self.status.set_progress)
        svc.busyChanged.connect(self.status.set_busy)
        self.canvas.hovered.connect(self._hovered)
        self.canvas.clicked.connect(self._clicked)
        self.inspector.personChosen.connect(s.select_person)
        self.trace_panel.stepChosen.connect(s.set_trace_step)
        self.layers_panel.changed.connect(lambda: self._hovered(self._hover))
        self.settings_panel.settingsChanged.connect(self._settings_changed)
        self.settings_panel.modelChosen.connect(svc.load_model)

    # -- opening files -------------------------------------------------------------------
    def open_paths(self, paths: list[str]) -> None:
        """Add files/folders to the list, show the first one, remember them as recent."""
        if self.session.open_paths(paths):
            self.prefs.add_recent([str(Path(p).resolve()) for p in paths])
        else:
            self.show_error(f"No images in {', '.join(map(str, paths))}")

    def open_files_dialog(self) -> None:
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Open images", self.prefs.last_folder(),
                                                          IMAGE_FILTER)
        if files:
            self.prefs.set_last_folder(str(Path(files[0]).parent))
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of images",
                                                            self.prefs.last_folder())
        if folder:
            self.prefs.set_last_folder(folder)
            self.open_paths([folder])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.prefs.recent():
            self.recent_menu.addAction(path, lambda p=path: self.open_paths([p]))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    # -- session and service events ------------------------------------------------------
    def _current_changed(self, index: int) -> None:
        path = self.session.current_path
        self.setWindowTitle(f"{TITLE} — {Path(path).name} ({index + 1}/{len(self.session.paths)})")
        self.service.show(path)

    def _result_changed(self, result: InferenceResult | None) -> None:
        self.canvas.set_result(result)
        self.inspector.set_result(result)
        self.trace_panel.set_result(result)
        self.status.show_result(result)
        self._probe_changed(self.session.probe)
        if result is not None:
            self.status.clearMessage()

    def _project_opened(self) -> None:
        for key in RESULT_PEOPLE_LAYERS:
            self.layers_panel.rows[key].check.setChecked(False)
        for name in ("Editing", "History"):
            self.docks[name].raise_()

    def _show_numbers(self, numbers: dict[int, int] | None) -> None:
        for view in (self.inspector, self.trace_panel, *self.layers.values()):
            view.set_numbers(numbers)

    def _person_selected(self, index: int) -> None:
        self.layers["people"].select(index)
        self.inspector.show_person(index)

    def _probe_changed(self, xy: np.ndarray | None) -> None:
        self.layers["probe"].set_point(xy)
        self.inspector.show_click(self.session.result, xy)

    def _trace_step_changed(self, step: int) -> None:
        self.layers["trace"].set_step(step)
        self.trace_panel.show_step(step)

    def _image_failed(self, path: str, message: str) -> None:
        self.image_list.mark_failed(path, message)
        if path == self.session.current_path:
            self.show_error(f"Cannot open image: {message}")

    def _engine_ready(self, engine: Engine, model: str, device: str, backend: str) -> None:
        self.prefs.set_model(model, device, backend)
        self.status.set_device(engine.device_name if engine.backend == "float"
                               else f"{engine.device_name}, {engine.backend}")
        self.layers_panel.set_trained_heads(engine.trained_heads)
        self.settings_panel.set_trained_heads(engine.trained_heads)
        self.settings_panel.set_model_decoding(engine.decoding)
        self.status.showMessage(f"Model {engine.model_name} on {engine.device_name} "
                                f"(heads: {', '.join(engine.trained_heads)})", 5000)

    def _engine_failed(self, message: str) -> None:
        if self.service.engine is not None:
            self.settings_panel.show_model(*self.prefs.model())
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Model not loaded", message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.open()
        self.show_error(f"Model not loaded: {message}")

    def _settings_changed(self, settings: InferenceSettings) -> None:
        self.prefs.set_inference_settings(settings)
        self.service.set_settings(settings)

    def _cancel(self) -> None:
        self.service.cancel()
        self.status.showMessage("Cancelled; press F5 to run again.", 5000)

    def show_error(self, message: str) -> None:
        """A one-line error in the status bar (kept until the next result)."""
        self.status.showMessage(message)

    # -- canvas events ---------------------------------------------------------------------
    def _hovered(self, xy: np.ndarray | None) -> None:
        self._hover = xy
        self.inspector.show_cursor(self.canvas.probe(xy) if xy is not None else [])

    def _clicked(self, xy: np.ndarray) -> None:
        result = self.session.result
        if result is None:
            return
        self.session.set_probe(xy)
        people = self.layers["people"]
        label = people.skeletons.label_at(xy) if people.shown else None   # a click on a label: its person
        hit = nearest_keypoint(result, xy, PICK_SCREEN_PX * self.canvas.pixel_size())
        if label is not None or hit is not None:
            self.session.select_person(label if label is not None else hit[0])

    # -- help and persistence --------------------------------------------------------------
    def show_shortcuts(self) -> None:
        ShortcutsDialog(list(self.actions_by_name.values()), self).open()

    def _restore_window(self) -> None:
        geometry, state = self.prefs.window()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*FIRST_SIZE)
        if state is None or not self.restoreState(state, DOCK_LAYOUT_VERSION):
            for names, sizes, orientation in FIRST_DOCK_SIZES:
                self.resizeDocks([self.docks[n] for n in names], list(sizes), orientation)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.editor.doc.close_project()
        self.prefs.set_window(self.saveGeometry(), self.saveState(DOCK_LAYOUT_VERSION))
        for key, layer in self.layers.items():
            self.prefs.set_layer_state(key, layer.state())
        self.service.shutdown()
        self.training.shutdown()
        super().closeEvent(event)
