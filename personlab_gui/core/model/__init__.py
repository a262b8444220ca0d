"""The PersonLab network, its backbones, checkpoint files, the model zoo and device choice."""

from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint_info, save_checkpoint
from .device import select_device
from .net import PersonLabNet
from .zoo import DEFAULT_MODEL, list_models, resolve_model

__all__ = [
    "CheckpointError", "DEFAULT_MODEL", "PersonLabNet", "list_models", "load_checkpoint",
    "read_checkpoint_info", "resolve_model", "save_checkpoint", "select_device",
]
