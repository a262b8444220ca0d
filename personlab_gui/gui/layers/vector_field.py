"""Offset fields as arrows: short-range S_k, mid-range M_kl (raw or refined), long-range L_k.

Each layer draws ONE batched curve item, only where the field has meaning (heatmap
p > 0.1 for short/mid, segmentation p_S > 0.5 for long), thinned to a power-of-two grid
step that keeps arrows readable at the current zoom, for the visible area plus a margin
(rebuilt when the view leaves it), and never more than ``MAX_ARROWS`` arrows or
``MAX_INK_PX`` screen pixels of them: drawing costs per line and per pixel, and those
bounds keep pan/zoom repaints fast.
"""

from __future__ import annotations

import numpy as np

from ...core.decoding.result import InferenceResult
from ...core.skeleton import DIRECTED_EDGES, K, KEYPOINT_NAMES, SEGMENTATION_THRESHOLD
from ..probing import EDGE_NAMES, HEATMAP_THRESHOLD, grid_cell, to_image_vector, vector_text
from .arrows import arrows_item, clear_arrows, set_arrows, thinning_step
from .base import KEYPOINT_CHOICES, Layer, Option, ProbeRows, keypoint_index
from .extent import clip_arrows

Field = tuple[str, np.ndarray, np.ndarray]   # label, (h, w, 2) vectors (input px), (h, w) mask
#: Most arrows one layer draws, and most screen pixels of arrow shafts (drawing costs per
#: line and per pixel); beyond either the grid step doubles.
MAX_ARROWS = 1000
MAX_INK_PX = 200_000
#: Arrows are built for the visible area plus this fraction of its size on each side.
VIEW_MARGIN = 0.5


def expand(area: np.ndarray, margin: float) -> np.ndarray:
    """(x0, y0, x1, y1) grown by ``margin`` times its size on each side."""
    size = area[2:] - area[:2]
    return np.concatenate([area[:2] - margin * size, area[2:] + margin * size])


def covers(outer: np.ndarray, inner: np.ndarray) -> bool:
    return bool(np.all(outer[:2] <= inner[:2]) and np.all(outer[2:] >= inner[2:]))


def grid_window(result: InferenceResult, area: np.ndarray | None, step: int) -> tuple[slice, slice]:
    """Row and column slices of the grid cells inside image-pixel ``area`` (None: all),
    starting on multiples of ``step`` so arrows stay put while panning."""
    h, w = result.grid_hw
    if area is None:
        return slice(0, h, step), slice(0, w, step)
    (c0, r0), (c1, r1) = result.image_to_grid(area.reshape(2, 2))
    c0, r0 = (max(int(np.floor(v)), 0) // step * step for v in (c0, r0))
    return slice(r0, min(int(np.ceil(r1)) + 1, h), step), slice(c0, min(int(np.ceil(c1)) + 1, w), step)


class VectorFieldLayer(Layer):
    """Base: subclasses list the (label, vectors, mask) fields to draw."""

    color: tuple[int, int, int]

    def __init__(self) -> None:
        self._pixel_size = 1.0
        self._view: np.ndarray | None = None              # visible (x0, y0, x1, y1), image px
        self._built: tuple[int, np.ndarray | None] = (0, None)  # zoom step, area drawn
        self.step = 1
        super().__init__()

    def _make_items(self) -> list:
        self.arrows = arrows_item(self.color)
        return [self.arrows]

    def fields(self, result: InferenceResult) -> list[Field]:
        raise NotImplementedError

    def cell_size(self, result: InferenceResult) -> float:
        """One field-grid cell in image pixels."""
        return float(result.field_stride / result.transform.scale_xy.mean())

    def view_changed(self, pixel_size: float, view: np.ndarray) -> None:
        self._pixel_size, self._view = pixel_size, view
        if self.available(self.result) and self._stale():
            self.refresh()

    def _stale(self) -> bool:
        zoom_step, area = self._built
        moved_out = area is not None and not covers(area, self._view)
        return moved_out or zoom_step != thinning_step(self.cell_size(self.result), self._pixel_size)

    def _draw(self, result: InferenceResult) -> None:
        zoom_step = thinning_step(self.cell_size(result), self._pixel_size)
        area = None if self._view is None else expand(self._view, VIEW_MARGIN)
        fields = self.fields(result)
        self.step = zoom_step
        origins, tips = self._arrows(result, fields, area)
        while self._too_many(origins, tips) and self.step < max(result.grid_hw):
            self.step *= 2
            origins, tips = self._arrows(result, fields, area)
        set_arrows(self.arrows, origins, tips, 0.4 * self.cell_size(result) * self.step)
        self._built = (zoom_step, area)

    def _arrows(self, result: InferenceResult, fields: list[Field], area: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
        """(origins, tips) in image pixels of the arrows at the current step inside ``area``,
        clipped to the image."""
        rows, cols = grid_window(result, area, self.step)
        starts, ends = [], []
        for _, vectors, mask in fields:
            r, c = np.nonzero(mask[rows, cols])
            r, c = rows.start + r * self.step, cols.start + c * self.step
            start = np.stack([c, r], axis=1) * float(result.field_stride)
            starts.append(start)
            ends.append(start + vectors[r, c])
        to_image = result.transform.to_image
        return clip_arrows(to_image(np.concatenate(starts)), to_image(np.concatenate(ends)), result.image_hw)

    def _too_many(self, origins: np.ndarray, tips: np.ndarray) -> bool:
        """More arrows, or more arrow length on screen, than stays readable and cheap."""
        ink = np.hypot(*(tips - origins).T).sum() / self._pixel_size
        return len(origins) > MAX_ARROWS or ink > MAX_INK_PX

    def _clear(self) -> None:
        clear_arrows(self.arrows)
        self._built = (0, None)

    def probe(self, xy: np.ndarray) -> ProbeRows:
        cell = grid_cell(self.result, xy)
        if cell is None:
            return []
        return [(label, vector_text(to_image_vector(self.result, vectors[cell])))
                for label, vectors, mask in self.fields(self.result) if mask[cell]]


def _keypoint_fields(symbol: str, stack: np.ndarray, masks: np.ndarray, k: int | None) -> list[Field]:
    kinds = range(K) if k is None else [k]
    return [(f"{symbol} {KEYPOINT_NAMES[i]}", stack[i], masks[i]) for i in kinds]


class ShortRangeLayer(VectorFieldLayer):
    """S_k: from each position inside a keypoint disk to that keypoint."""

    key, name, shortcut, z = "short", "Short-range offsets S_k", "S", 20
    color = (255, 215, 0)

    def _make_options(self) -> list[Option]:
        return [Option("keypoint", KEYPOINT_CHOICES, KEYPOINT_CHOICES.index("nose"))]

    def fields(self, result: InferenceResult) -> list[Field]:
        masks = result.heatmaps > HEATMAP_THRESHOLD
        return _keypoint_fields("S", result.short, masks, keypoint_index(self.option("keypoint")))


class MidRangeLayer(VectorFieldLayer):
    """M_kl for one directed edge: raw, or after refinement step 1 or 2."""

    key, name, shortcut, z = "mid", "Mid-range offsets M_kl", "M", 21
    color = (80, 255, 140)
    STEPS = ("raw", "refined 1", "refined 2")

    def _make_options(self) -> list[Option]:
        return [Option("edge", EDGE_NAMES), Option("step", self.STEPS, len(self.STEPS) - 1)]

    def vectors(self, result: InferenceResult) -> np.ndarray:
        """(2E, h, w, 2) for the chosen step (the last available one if fewer were run)."""
        step = min(self.option("step").index, len(result.mid_refined))
        return result.mid_raw if step == 0 else result.mid_refined[step - 1]

    def fields(self, result: InferenceResult) -> list[Field]:
        e = self.option("edge").index
        mask = result.heatmaps[DIRECTED_EDGES[e][0]] > HEATMAP_THRESHOLD
        return [(f"M {EDGE_NAMES[e]} ({self.option('step').value})", self.vectors(result)[e], mask)]


class LongRangeLayer(VectorFieldLayer):
    """L_k: from each person pixel to keypoint k of its person (raw or refined)."""

    key, name, shortcut, z = "long", "Long-range offsets L_k", "Shift+L", 22
    color = (255, 90, 255)
    STEPS = ("raw", "refined")
    required_heads = ("long",)

    def _make_options(self) -> list[Option]:
        return [Option("keypoint", KEYPOINT_CHOICES, KEYPOINT_CHOICES.index("nose")),
                Option("step", self.STEPS, 1)]

    def available(self, result: InferenceResult | None) -> bool:
        return result is not None and result.long_raw is not None and result.long_refined is not None

    def fields(self, result: InferenceResult) -> list[Field]:
        stack = result.long_raw if self.option("step").index == 0 else result.long_refined
        person = (result.segmentation > SEGMENTATION_THRESHOLD if result.segmentation is not None
                  else np.ones(result.grid_hw, bool))
        masks = np.broadcast_to(person, (K, *person.shape))
        return _keypoint_fields("L", stack, masks, keypoint_index(self.option("keypoint")))
