"""The per-image inference result: the decoded people and every raw map the viewer draws.

Maps live on the *field grid*: the network outputs bilinearly upsampled (align-corners)
from output stride 16 to ``field_stride`` network-input pixels, so grid cell (i, j) is
network-input pixel (field_stride * j, field_stride * i). ``transform`` maps
network-input pixels to original image pixels. Vector fields are ``(C, h, w, 2)`` with the
last axis (dx, dy) in network-input pixels (layout: ``skeleton`` module docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .fields import upsample
from ..data.preprocess import InputTransform
from ..data.pseudo_labels import DEFAULT_LABEL_THRESHOLD, judge
from .refine import refine_mid
from .trace import TraceEvent, trace_events


@dataclass
class Person:
    """One decoded person, in original image pixels."""

    keypoints: np.ndarray            # (K, 3): x, y, expected-OKS score
    score: float                     # instance score
    mask: np.ndarray | None = None   # (H, W) bool at image resolution, when masks are decoded


@dataclass
class InferenceResult:
    """Everything computed for one image; nothing needs recomputing to display it."""

    image_hw: tuple[int, int]
    transform: InputTransform
    field_stride: int
    heatmaps: np.ndarray                       # (K, h, w) probabilities
    short: np.ndarray                          # (K, h, w, 2)
    mid: np.ndarray                            # (2E, h16, w16, 2) on the network output grid
    hough: np.ndarray                          # (K, h, w), same grid
    candidates: list[np.ndarray]               # per keypoint type: (n, 3) x, y, score (input px)
    people: list[Person]
    trace_arrays: tuple[np.ndarray, ...] | None = None  # the arguments of trace.trace_events
    segmentation: np.ndarray | None = None     # (h, w) probability, when that head is trained
    long_raw: np.ndarray | None = None         # (K, h, w, 2)
    long_refined: np.ndarray | None = None     # (K, h, w, 2) after refinement (refine.refine_long)
    parts: np.ndarray | None = None            # (N_PARTS, h, w) body-part probabilities, when trained
    basins: np.ndarray | None = None           # (H, W) int32 person index (-1: no person)
    basin_distance: np.ndarray | None = None   # (H, W) float32 embedding distance D
    trained_heads: tuple[str, ...] = ()
    decoder: str = "personlab"
    forward_ms: float = 0.0
    decode_ms: float = 0.0
    device: str = "cpu"
    output_stride: int = 16
    label_threshold: float = DEFAULT_LABEL_THRESHOLD   # the settings' instance score a label needs

    @cached_property
    def label_verdicts(self) -> list[str]:
        """Per person: ``pseudo_labels.LABEL``, or why it is only a candidate (on first use)."""
        return judge(self.people, self.image_hw, self.label_threshold)

    @cached_property
    def mid_raw(self) -> np.ndarray:
        """The mid-range field (2E, h, w, 2) upsampled to the field grid (computed on first use)."""
        return upsample(self.mid, self.output_stride // self.field_stride)

    @cached_property
    def mid_refined(self) -> list[np.ndarray]:
        """The whole mid-range field after each refinement step (computed on first use)."""
        return refine_mid(self.mid_raw, self.short, self.field_stride)

    @cached_property
    def trace(self) -> list[TraceEvent]:
        """The greedy decoder's steps (empty for the PoseNet decoder)."""
        return trace_events(*self.trace_arrays) if self.trace_arrays is not None else []

    @property
    def grid_hw(self) -> tuple[int, int]:
        return self.heatmaps.shape[1], self.heatmaps.shape[2]

    def grid_to_image(self, xy: np.ndarray) -> np.ndarray:
        """Field-grid coordinates (..., 2) -> original image pixels."""
        return self.transform.to_image(np.asarray(xy, dtype=np.float64) * self.field_stride)

    def image_to_grid(self, xy: np.ndarray) -> np.ndarray:
        """Original image pixels (..., 2) -> field-grid coordinates."""
        return self.transform.to_input(np.asarray(xy, dtype=np.float64)) / self.field_stride

    @property
    def num_people(self) -> int:
        return len(self.people)

