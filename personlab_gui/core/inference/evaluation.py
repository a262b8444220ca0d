"""COCO evaluation of an engine over a ground-truth set: keypoint AP, mask AP and timings.

Shared by ``personlab-gui eval``, the training loop's validation hook and the training tab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .batch import BatchItem, run_batch
from ..data.coco_eval import evaluate
from ..data.coco_read import load_coco, validate_coco
from ..data.coco_write import detections_to_results
from .engine import Engine, InferenceSettings, has_masks
from ..data.image_io import safe_join
from ..skeleton import ALL_HEADS, POSE_HEADS


@dataclass
class GroundTruth:
    """Merged COCO ground truth and the image file of each of its images (same order)."""

    data: dict
    paths: list[Path]


@dataclass
class Evaluation:
    """Scores per IoU type, median timings, and the files that could not be processed."""

    scores: dict[str, dict[str, float]]
    images: int
    forward_ms: float | None
    decode_ms: float | None
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The JSON object ``personlab-gui eval --json`` prints."""
        return {"images": self.images, **self.scores,
                "forward_ms": self.forward_ms, "decode_ms": self.decode_ms}


def load_ground_truth(gt_files: Sequence[str | Path], image_dirs: Sequence[str | Path]) -> GroundTruth:
    """Load and merge ground-truth files (their COCO ids must not collide); locate the images."""
    merged: dict = {"images": [], "annotations": [], "categories": []}
    paths: list[Path] = []
    for gt_file, image_dir in zip(gt_files, image_dirs, strict=True):
        data = load_coco(gt_file)
        merged["images"] += data["images"]
        merged["annotations"] += data["annotations"]
        merged["categories"] = data["categories"]
        paths += [safe_join(image_dir, img["file_name"]) for img in data["images"]]
    validate_coco(merged, " + ".join(str(f) for f in gt_files))
    return GroundTruth(merged, paths)


def iou_types_for(trained_heads: Sequence[str]) -> tuple[str, ...]:
    """Mask AP is only measured when the model can produce masks."""
    return ("keypoints", "segm") if has_masks(tuple(trained_heads)) else ("keypoints",)


def evaluate_engine(engine: Engine, gt: GroundTruth, settings: InferenceSettings,
                    on_done: Callable[[int, BatchItem], None] | None = None,
                    batch: int = 1) -> Evaluation:
    """Run inference over every ground-truth image (``batch`` per network call) and score
    it with COCOeval."""
    results, forward_ms, decode_ms, failures = [], [], [], []
    items = run_batch(engine, gt.paths, settings, on_done, batch=batch)
    for img, item in zip(gt.data["images"], items):
        if item.error:
            failures.append(item.error)
            continue
        results += detections_to_results(img["id"], item.result.people)
        forward_ms.append(item.result.forward_ms)
        decode_ms.append(item.result.decode_ms)
    scores = evaluate(gt.data, results, iou_types=iou_types_for(engine.trained_heads))
    median = lambda values: float(np.median(values)) if values else None  # noqa: E731
    return Evaluation(scores, len(gt.paths) - len(failures), median(forward_ms), median(decode_ms), failures)


def missing_images(gt: GroundTruth) -> list[Path]:
    """The ground truth's image files that do not exist."""
    return [path for path in gt.paths if not path.is_file()]


def evaluate_model(model: torch.nn.Module, gt: GroundTruth, iou_types: Sequence[str] = ("keypoints",),
                   settings: InferenceSettings | None = None) -> Evaluation:
    """Evaluation of an in-memory network (as during training); its train/eval mode is restored."""
    heads = ALL_HEADS if "segm" in iou_types else POSE_HEADS
    was_training = model.training
    device = next(model.parameters()).device
    try:
        engine = Engine.from_network(model, heads, device)
        return evaluate_engine(engine, gt, settings or InferenceSettings())
    finally:
        model.train(was_training)
