"""The Training tab: fine-tune a model on the project's reviewed images in a child
process, with live curves, validation, checkpoints in the zoo and one-click use."""

from .install import install_training_tab
from .panel import TrainingPanel

__all__ = ["TrainingPanel", "install_training_tab"]
