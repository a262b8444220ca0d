"""Start PersonLab Studio (the GUI); with arguments, behaves like the ``personlab-gui`` CLI."""

import sys

from personlab_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
