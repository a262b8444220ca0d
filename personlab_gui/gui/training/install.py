"""How the main window hosts the Training tab: the viewer's canvas and the tab share the
central area as two pages; while the Training page shows, the viewer's docks step aside
(their layout returns with the Viewer page, and before the window saves it on closing).
"Use this model" loads the new model in the viewer, which re-runs the current image; the
model pickers learn each model's validation figures; the tab follows the project the
editor's document has open (and its review marks, for the counts).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..document import Document
from ..inference import InferenceService
from ..panels.settings_panel import SettingsPanel
from .panel import TrainingPanel
from .zoo_picker import refresh_model_picker


class TrainingPage(QtCore.QObject):
    """The two central pages and the dock layout that goes with each."""

    def __init__(self, window: QtWidgets.QMainWindow, panel: TrainingPanel) -> None:
        super().__init__(window)
        self.window, self.panel = window, panel
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(window.takeCentralWidget(), "Viewer")
        self.tabs.addTab(panel, "Training")
        window.setCentralWidget(self.tabs)
        self._viewer_state: QtCore.QByteArray | None = None
        self.tabs.currentChanged.connect(self._page_changed)
        window.installEventFilter(self)

    def show_viewer(self) -> None:
        self.tabs.setCurrentIndex(0)

    def _page_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.panel:
            self._viewer_state = self.window.saveState()
            for dock in self.window.findChildren(QtWidgets.QDockWidget):
                dock.hide()
        elif self._viewer_state is not None:
            self.window.restoreState(self._viewer_state)
            self._viewer_state = None

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Close:
            self.show_viewer()       # the window saves the viewer's layout, not the training page's
        return False


def install_training_tab(window: QtWidgets.QMainWindow, settings: SettingsPanel, service: InferenceService,
                         doc: Document) -> TrainingPage:
    """Add the Training page to ``window`` beside the viewer's canvas, wired to the viewer's
    model picker (``settings``) and ``service``, and to the editor's ``doc``."""
    panel = TrainingPanel()
    page = TrainingPage(window, panel)
    refresh_model_picker(settings.model)
    panel.modelSaved.connect(lambda _path: refresh_model_picker(settings.model))
    panel.useModel.connect(lambda model: use_model(settings, service, model))
    panel.useModel.connect(page.show_viewer)
    doc.project_changed.connect(lambda: panel.form.set_project(str(doc.project.path) if doc.project else ""))
    doc.review_changed.connect(panel.form.dataChanged)
    return page


def use_model(settings: SettingsPanel, service: InferenceService, model: str) -> None:
    """Load ``model`` in the viewer on the viewer's device."""
    device = settings.device.currentText()
    settings.show_model(model, device)
    service.load_model(model, device, settings.backend.currentText())
