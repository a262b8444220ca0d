"""``python -m personlab_gui`` (and ``torchrun -m personlab_gui``) runs the CLI."""

import sys

from .cli import main

sys.exit(main())
