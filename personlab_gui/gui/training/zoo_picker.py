"""Model pickers that know the zoo: each model's validation figures and origin, as a
one-line text and as the tooltip of its entry in any model ``QComboBox``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.model import list_models
from ...core.model.zoo import DEFAULT_MODEL
from .run import METRIC_NAMES


def model_figures(meta: dict) -> str:
    """'keypoint AP 0.412 (start 0.385) · mask AP …', or why there are none."""
    metrics, start = meta.get("metrics") or {}, meta.get("start_metrics") or {}
    parts = []
    for key, name in METRIC_NAMES.items():
        if isinstance(metrics.get(key), (int, float)):
            baseline = f" (start {start[key]:.3f})" if isinstance(start.get(key), (int, float)) else ""
            parts.append(f"{name} {metrics[key]:.3f}{baseline}")
    if parts:
        return "validation: " + " · ".join(parts)
    return "not validated (stopped early)" if meta.get("cancelled") else "no validation figures"


def model_description(meta: dict) -> str:
    """Figures, then where the model came from (parent, steps, date) when known."""
    lines = [model_figures(meta)]
    if meta.get("parent"):
        steps = f"{meta['steps']} steps " if "steps" in meta else ""
        lines.append(f"fine-tuned {steps}from {Path(meta['parent']).stem}")
    if meta.get("date"):
        lines.append(f"date {meta['date']}")
    return "\n".join(lines)


def zoo_descriptions() -> dict[str, str]:
    """Model name -> description, for every readable zoo model ('default' included)."""
    found = {m["name"]: model_description(m["meta"]) for m in list_models()}
    if DEFAULT_MODEL in found:
        found["default"] = f"{DEFAULT_MODEL}\n{found[DEFAULT_MODEL]}"
    return found


def refresh_model_picker(combo: QtWidgets.QComboBox, descriptions: dict[str, str] | None = None) -> None:
    """Add zoo models missing from ``combo`` and set every known entry's tooltip; the
    current choice and other entries stay."""
    descriptions = zoo_descriptions() if descriptions is None else descriptions
    with QtCore.QSignalBlocker(combo):
        for name in ["default", *sorted(n for n in descriptions if n != "default")]:
            if combo.findText(name) < 0:
                combo.addItem(name)
            combo.setItemData(combo.findText(name), descriptions.get(name, ""), QtCore.Qt.ItemDataRole.ToolTipRole)
