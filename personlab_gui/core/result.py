"""The per-image inference result: the decoded people and every raw map the viewer draws.

Maps live on the *field grid*: the network outputs bilinearly upsampled (align-corners)
from output stride 16 to ``field_stride`` network-input pixels, so grid cell (i, j) is
network-input pixel (field_stride * j, field_stride * i). ``transform`` maps
network-input pixels to original image pixels. Vector fields are ``(C, h, w, 2)`` with the
last axis (dx, dy) in network-input pixels (layout: ``skeleton`` module docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .preprocess import InputTransform


@dataclass
class Person:
    """One decoded person, in original image pixels."""

    keypoints: np.ndarray            # (K, 3): x, y, expected-OKS score
    score: float                     # instance score
    mask: np.ndarray | None = None   # (H, W) bool at image resolution, when masks are decoded

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """COCO (x, y, w, h): around the mask if present, else around the keypoints."""
        if self.mask is not None and self.mask.any():
            ys, xs = np.nonzero(self.mask)
            return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)
        x, y = self.keypoints[:, 0], self.keypoints[:, 1]
        return float(x.min()), float(y.min()), float(x.max() - x.min()), float(y.max() - y.min())


@dataclass
class TraceEvent:
    """One step of the greedy decoder, in network-input pixels (see ``decode.TRACE_*``)."""

    kind: str                # "seed", "nms_reject", "edge", "place"
    keypoint: int            # keypoint type concerned (target type for "edge")
    person: int              # person index (the blocking person for "nms_reject")
    x: float
    y: float
    score: float
    from_keypoint: int = -1  # source keypoint type of an "edge"
    from_x: float = float("nan")
    from_y: float = float("nan")


@dataclass
class InferenceResult:
    """Everything computed for one image; nothing needs recomputing to display it."""

    image_hw: tuple[int, int]
    transform: InputTransform
    field_stride: int
    heatmaps: np.ndarray                       # (K, h, w) probabilities
    short: np.ndarray                          # (K, h, w, 2)
    mid_raw: np.ndarray                        # (2E, h, w, 2)
    mid_refined: list[np.ndarray]              # one (2E, h, w, 2) per refinement step
    hough: np.ndarray                          # (K, h, w), same grid
    candidates: list[np.ndarray]               # per keypoint type: (n, 3) x, y, score (input px)
    people: list[Person]
    trace: list[TraceEvent] = field(default_factory=list)
    segmentation: np.ndarray | None = None     # (h, w) probability, when that head is trained
    long_raw: np.ndarray | None = None         # (K, h, w, 2)
    long_refined: np.ndarray | None = None     # (K, h, w, 2) after the 4 refinement steps
    basins: np.ndarray | None = None           # (H, W) int32 person index (-1: no person)
    basin_distance: np.ndarray | None = None   # (H, W) float32 embedding distance D
    trained_heads: tuple[str, ...] = ()
    decoder: str = "personlab"
    forward_ms: float = 0.0
    decode_ms: float = 0.0
    device: str = "cpu"

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

