"""How the main window hosts the Training tab: the viewer's canvas and the tab share the
central area as two pages; while the Training page shows, the viewer's docks step aside
(their layout returns with the Viewer page, and before the window saves it on closing).
"Use this model" loads the new model in the viewer, which re-runs the current image; the
model pickers learn each model's validation figures; the tab follows the project the
window's editor has open (and its review marks, for the counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from .panel import TrainingPanel
from .zoo_picker import refresh_model_picker

if TYPE_CHECKING:
    from ..main_window import MainWindow


class TrainingPage(QtCore.QObject):
    """The two central pages and the dock layout that goes with each."""

    def __init__(self, window: MainWindow, panel: TrainingPanel) -> None:
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


def install_training_tab(window: MainWindow) -> TrainingPanel:
    """Add the Training page to ``window`` and wire it to the viewer; returns the panel."""
    panel = TrainingPanel()
    window.training_page = page = TrainingPage(window, panel)
    refresh_model_picker(window.settings_panel.model)
    panel.modelSaved.connect(lambda _path: refresh_model_picker(window.settings_panel.model))
    panel.useModel.connect(lambda model: use_model(window, model))
    panel.useModel.connect(page.show_viewer)
    doc = window.editor.doc
    doc.project_changed.connect(lambda: panel.form.set_project(str(doc.project.path) if doc.project else ""))
    doc.review_changed.connect(panel.form.dataChanged)
    return panel


def use_model(window: MainWindow, model: str) -> None:
    """Load ``model`` in the viewer on the viewer's device."""
    device = window.settings_panel.device.currentText()
    window.settings_panel.show_model(model, device)
    window.service.load_model(model, device)
