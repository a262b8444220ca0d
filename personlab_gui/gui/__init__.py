"""PersonLab Studio's desktop viewer (PySide6 + pyqtgraph); imports ``core``, never the reverse."""
