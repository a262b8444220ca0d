"""The model zoo: named checkpoints ``<zoo>/NAME.pt`` and resolution of ``--model NAME|PATH``.

The zoo folder is ``model_zoo`` at the repository root, or ``$PERSONLAB_MODEL_ZOO``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .checkpoint import CheckpointError, PathLike, read_checkpoint_info

DEFAULT_MODEL = "personlab_distilled_mnv1_075"
ZOO_ENV = "PERSONLAB_MODEL_ZOO"
SUFFIX = ".pt"

_log = logging.getLogger(__name__)


def zoo_dir() -> Path:
    """The zoo folder."""
    override = os.environ.get(ZOO_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[3] / "model_zoo"


def zoo_names() -> list[str]:
    """Names of the checkpoint files in the zoo (not validated)."""
    folder = zoo_dir()
    return sorted(p.stem for p in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def _is_file(path: Path) -> bool:
    """``Path.is_file``, False (not an exception) for names too long or with a NUL byte."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _is_name(text: str) -> bool:
    return "/" not in text and os.sep not in text and not text.endswith(SUFFIX)


def resolve_model(name_or_path: PathLike = "default") -> Path:
    """'default', a zoo name or a checkpoint path -> existing file path; else ``CheckpointError``."""
    if isinstance(name_or_path, str) and _is_name(name_or_path):
        name = DEFAULT_MODEL if name_or_path == "default" else name_or_path
        candidate = zoo_dir() / f"{name}{SUFFIX}"
        if _is_file(candidate):
            return candidate
        if not _is_file(Path(name)):
            available = ", ".join(zoo_names()) or "none"
            raise CheckpointError(f"{name}: unknown model; available in {zoo_dir()}: {available}")
    path = Path(name_or_path).expanduser()
    if not _is_file(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    return path


def list_models() -> list[dict[str, Any]]:
    """name, path, trained_heads and meta of every readable zoo checkpoint (others are logged)."""
    models = []
    for name in zoo_names():
        path = zoo_dir() / f"{name}{SUFFIX}"
        try:
            info = read_checkpoint_info(path)
        except CheckpointError as exc:
            _log.warning("skipping zoo model: %s", exc)
            continue
        models.append({"name": name, "path": path, "trained_heads": info["trained_heads"],
                       "meta": info["meta"]})
    return models
