"""What the viewer remembers between sessions (QSettings, organisation "PersonLabStudio"):
recent files, model and device, inference settings, layer choices, window layout.

Structured values are stored as JSON strings, so every QSettings backend reads them back
the same; unreadable entries fall back to the defaults.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PySide6 import QtCore

from ..core.inference.engine import InferenceSettings

ORGANIZATION = "PersonLabStudio"
APPLICATION = "PersonLab Studio"
MAX_RECENT = 10


class Preferences:
    """Typed access to the app's QSettings."""

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        self.qsettings = settings or QtCore.QSettings(ORGANIZATION, APPLICATION)

    def _json(self, key: str, default: Any) -> Any:
        try:
            return json.loads(str(self.qsettings.value(key, "")))
        except (TypeError, ValueError):
            return default

    def _set_json(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, json.dumps(value))

    # -- files ---------------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self._json("recent", [])
        return [str(p) for p in value] if isinstance(value, list) else []

    def add_recent(self, paths: list[str]) -> None:
        recent = [*paths, *(p for p in self.recent() if p not in paths)]
        self._set_json("recent", recent[:MAX_RECENT])

    def last_folder(self) -> str:
        return str(self.qsettings.value("last_folder", ""))

    def set_last_folder(self, folder: str) -> None:
        self.qsettings.setValue("last_folder", folder)

    # -- inference -----------------------------------------------------------------------
    def model(self) -> tuple[str, str, str]:
        """The model, device and backend last loaded."""
        value = self.qsettings.value
        return str(value("model", "default")), str(value("device", "auto")), str(value("backend", "float"))

    def set_model(self, model: str, device: str, backend: str = "float") -> None:
        self.qsettings.setValue("model", model)
        self.qsettings.setValue("device", device)
        self.qsettings.setValue("backend", backend)

    def inference_settings(self) -> InferenceSettings:
        values = self._json("inference", {})
        try:
            values["scales"] = tuple(values.get("scales", (1.0,)))
            return InferenceSettings(**values)
        except (TypeError, ValueError, AttributeError):
            return InferenceSettings()

    def set_inference_settings(self, settings: InferenceSettings) -> None:
        self._set_json("inference", dataclasses.asdict(settings))

    # -- layers and window ---------------------------------------------------------------
    def layer_state(self, key: str) -> dict:
        state = self._json(f"layers/{key}", {})
        return state if isinstance(state, dict) else {}

    def set_layer_state(self, key: str, state: dict) -> None:
        self._set_json(f"layers/{key}", state)

    def window(self) -> tuple[QtCore.QByteArray | None, QtCore.QByteArray | None]:
        """Saved (geometry, dock state)."""
        return self.qsettings.value("window/geometry"), self.qsettings.value("window/state")

    def set_window(self, geometry: QtCore.QByteArray, state: QtCore.QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
