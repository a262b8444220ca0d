"""What a project holds, as Python values: ``ImageRecord``, ``PersonRecord`` (validated on
creation), and the conversion of people to and from database rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

from ..data.coco_write import points_bbox
from ..skeleton import K

PROVENANCES = ("predicted", "accepted", "edited", "manual")
PERSON_COLUMNS = ("keypoints", "mask_rle", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
                   "iscrowd", "score", "provenance", "model", "settings")


@dataclass(frozen=True)
class ImageRecord:
    """One project image; ``path`` is relative to the image root."""

    id: int
    path: str
    width: int
    height: int
    size: int
    mtime_ns: int
    sha1: str
    reviewed: bool
    position: int


@dataclass(eq=False)
class PersonRecord:
    """One annotated person, in image pixels. ``bbox`` (x, y, w, h) defaults to
    ``geometry_bbox()``; RLE counts given as bytes or uncompressed lists are compressed."""

    keypoints: np.ndarray                    # (17, 3) float64: x, y, v in {0, 1, 2}
    mask_rle: dict | None = None             # {"size": [h, w], "counts": str}
    bbox: tuple[float, float, float, float] | None = None
    iscrowd: int = 0
    score: float | None = None
    provenance: str = "manual"
    model: str | None = None
    settings: dict | None = None

    def __post_init__(self) -> None:
        self.keypoints = np.array(self.keypoints, dtype=np.float64)
        if (self.keypoints.shape != (K, 3) or not np.isfinite(self.keypoints).all()
                or not np.isin(self.keypoints[:, 2], (0, 1, 2)).all()):
            raise ValueError(f"keypoints must be ({K}, 3) finite numbers with visibility 0, 1 or 2")
        if self.provenance not in PROVENANCES:
            raise ValueError(f"provenance must be one of {PROVENANCES}, got {self.provenance!r}")
        if self.iscrowd not in (0, 1):
            raise ValueError(f"iscrowd must be 0 or 1, got {self.iscrowd!r}")
        self.iscrowd = int(self.iscrowd)
        self.score = None if self.score is None else float(self.score)
        self.mask_rle = None if self.mask_rle is None else _compressed_rle(self.mask_rle)
        box = self.geometry_bbox() if self.bbox is None else self.bbox
        self.bbox = tuple(float(v) for v in (box or (0.0, 0.0, 0.0, 0.0)))
        if len(self.bbox) != 4:
            raise ValueError("bbox must be (x, y, w, h)")

    def mask(self) -> np.ndarray | None:
        """The (H, W) bool mask, or None."""
        return None if self.mask_rle is None else mask_utils.decode(self.mask_rle).astype(bool)

    def mask_area(self) -> int:
        """Mask pixels (0 without a mask)."""
        return 0 if self.mask_rle is None else int(mask_utils.area(self.mask_rle))

    def geometry_bbox(self) -> tuple[float, float, float, float] | None:
        """(x, y, w, h) around the mask's pixels, else around the labelled (v > 0) keypoints
        (zero-sized for one keypoint); None without either."""
        if self.mask_area():
            return tuple(float(v) for v in mask_utils.toBbox(self.mask_rle))
        labelled = self.keypoints[self.keypoints[:, 2] > 0, :2]
        if not len(labelled):
            return None
        return tuple(points_bbox(labelled))


def _compressed_rle(rle: dict) -> dict:
    counts = rle["counts"]
    if isinstance(counts, list):
        counts = mask_utils.frPyObjects(rle, *rle["size"])["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(s) for s in rle["size"]], "counts": counts}


def person_values(person: PersonRecord) -> tuple:
    return (person.keypoints.astype("<f8").tobytes(),
            None if person.mask_rle is None else json.dumps(person.mask_rle, separators=(",", ":")),
            *person.bbox, person.iscrowd, person.score, person.provenance, person.model,
            None if person.settings is None else json.dumps(person.settings, separators=(",", ":")))


def person_from_row(row: Sequence) -> PersonRecord:
    keypoints, mask_rle, x, y, w, h, iscrowd, score, provenance, model, settings = row
    return PersonRecord(np.frombuffer(keypoints, dtype="<f8").reshape(K, 3),
                        None if mask_rle is None else json.loads(mask_rle), (x, y, w, h), iscrowd,
                        score, provenance, model, None if settings is None else json.loads(settings))
