"""PersonLab Studio: bottom-up multi-person pose estimation and instance segmentation,
with a headless core (`personlab_gui.core`) and a PySide6 GUI (`personlab_gui.gui`)."""

__version__ = "0.1.0"
