"""COCO evaluation, quiet: ``evaluate`` scores each IoU type like the official server
(keypoints from the keypoints alone, segm from the RLE alone; AP, AP50, AP75, APm and APl,
COCOeval's -1 where no ground truth falls in an area range, 0 without results). Ground-truth
people lacking keypoints (or a segmentation) are ignored, not counted missed.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Sequence

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..skeleton import K
from .coco_read import PERSON_CATEGORY_ID, load_coco, validate_coco

METRIC_KEYS = ("AP", "AP50", "AP75", "APm", "APl")
#: Positions of METRIC_KEYS in ``COCOeval.stats`` per IoU type.
_STAT_INDEX = {"keypoints": (0, 1, 2, 3, 4), "segm": (0, 1, 2, 4, 5)}


def evaluate(gt: str | os.PathLike | dict, results: Sequence[dict],
             iou_types: Sequence[str] = ("keypoints",),
             image_ids: Iterable[int] | None = None) -> dict[str, dict[str, float]]:
    """COCOeval, silenced: ``{iou_type: {"AP", "AP50", "AP75", "APm", "APl"}}`` for the person
    category, over ``image_ids`` (default: every ground-truth image)."""
    if isinstance(gt, dict):
        validate_coco(gt, "<ground truth>")
    gt_data = gt if isinstance(gt, dict) else load_coco(gt)
    unknown = {r["image_id"] for r in results} - {image["id"] for image in gt_data["images"]}
    if unknown:
        raise ValueError(f"results for image ids not in the ground truth: {sorted(unknown)[:10]}")
    ids = sorted(image_ids) if image_ids is not None else None
    return {iou_type: _evaluate_one(gt_data, results, iou_type, ids) for iou_type in iou_types}


def _evaluate_one(gt_data: dict, results: Sequence[dict], iou_type: str,
                  image_ids: list[int] | None) -> dict[str, float]:
    if iou_type not in _STAT_INDEX:
        raise ValueError(f"unknown IoU type {iou_type!r}; expected one of {sorted(_STAT_INDEX)}")
    field = "keypoints" if iou_type == "keypoints" else "segmentation"
    detections = [{"image_id": r["image_id"], "category_id": r["category_id"], field: r[field], "score": r["score"]}
                  for r in results if field in r]
    if not detections:
        return dict.fromkeys(METRIC_KEYS, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _coco_api(_ground_truth_for(gt_data, iou_type))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(detections), iou_type)
        evaluator.params.catIds = [PERSON_CATEGORY_ID]
        if image_ids is not None:
            evaluator.params.imgIds = image_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {key: float(evaluator.stats[i]) for key, i in zip(METRIC_KEYS, _STAT_INDEX[iou_type])}


def _ground_truth_for(gt_data: dict, iou_type: str) -> dict:
    """Copies of the annotations (COCOeval writes into them), completed for ``iou_type``.

    Unlabelled people are ignored, never counted as misses: without keypoints they get
    num_keypoints 0 (COCOeval's ignore rule); without a segmentation their box becomes a
    crowd region, which absorbs the detections that fall inside it.
    """
    annotations = []
    for ann in gt_data["annotations"]:
        ann = dict(ann)
        if iou_type == "keypoints" and "keypoints" not in ann:
            ann.update(keypoints=[0] * (3 * K), num_keypoints=0)
        if iou_type == "segm" and "segmentation" not in ann:
            x, y, w, h = ann["bbox"]
            ann.update(segmentation=[[x, y, x, y + h, x + w, y + h, x + w, y]], iscrowd=1)
        annotations.append(ann)
    return {**gt_data, "annotations": annotations}


def _coco_api(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    return coco
