"""Canvas tools: the mouse handling of each kind of edit, all behind the ``Tool`` interface."""

from __future__ import annotations

from .add_person import AddPersonTool
from .base import Tool, ToolContext, ToolSurface
from .basin import BasinTool
from .brush import BrushTool, EraserTool
from .fill import FillTool
from .keypoints import KeypointTool
from .polygon import PolygonTool

#: Tool palette order; the first is the default.
TOOL_CLASSES: tuple[type[Tool], ...] = (
    KeypointTool, AddPersonTool, BrushTool, EraserTool, PolygonTool, FillTool, BasinTool,
)


def make_tools(ctx: ToolContext) -> dict[str, Tool]:
    """One instance of every tool, by key, in palette order."""
    return {cls.key: cls(ctx) for cls in TOOL_CLASSES}


__all__ = ["TOOL_CLASSES", "Tool", "ToolContext", "ToolSurface", "make_tools"]
