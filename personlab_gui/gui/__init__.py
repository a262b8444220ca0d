"""PersonLab Studio's desktop viewer (PySide6 + pyqtgraph); imports ``core``, never the reverse."""

from .qt_compat import protect_none

protect_none()
