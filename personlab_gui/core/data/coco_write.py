"""Writing COCO: masks as RLE or polygons, decoded people (anything with ``.keypoints``
(K, 3), ``.score`` and ``.mask``) as COCO results or a pseudo-labelled dataset, and
atomic JSON files.

* Results (``detections_to_results``): the third value of each keypoint triple carries the
  keypoint's score; COCOeval reads only x and y of detections, so this is harmless there.
* Polygons (``mask_to_polygons``) run a quarter pixel inside the mask's pixel borders
  (pycocotools fills a pixel whose centre is inside) and keep holes by bridging them into
  their outer ring, so mask -> polygons -> mask is exact.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..errors import InputError
from .pseudo_labels import DEFAULT_LABEL_THRESHOLD, labelled_keypoints, select_labels
from ..skeleton import coco_person_category
from .coco_read import IMAGE_FIELDS, PERSON_CATEGORY_ID

class PersonLike(Protocol):
    """What the converters need from a decoded person (``result.Person`` fits)."""

    keypoints: np.ndarray    # (K, 3): x, y, score in image pixels
    score: float
    mask: np.ndarray | None  # (H, W) bool, or None


def annotation_mask(ann: dict, height: int, width: int) -> np.ndarray:
    """(H, W) bool mask of an annotation: polygons, RLE or uncompressed RLE; empty if none."""
    seg = ann.get("segmentation")
    if not seg:
        return np.zeros((height, width), dtype=bool)
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = seg
    return mask_utils.decode(rle).astype(bool)


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed RLE ``{"size": [h, w], "counts": str}``, JSON-able."""
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """COCO polygons [x0, y0, x1, y1, ...] whose union rasterises back to ``mask`` exactly."""
    # Twice the resolution puts the traced pixel centres a quarter pixel inside each border.
    up = cv2.resize(np.asarray(mask, dtype=np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(np.pad(up, 1), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for index, contour in enumerate(contours):
        _, _, child, parent = hierarchy[0][index]
        if parent != -1 or len(contour) < 3:
            continue
        ring = contour.reshape(-1, 2)
        while child != -1:
            ring = _bridge(ring, contours[child].reshape(-1, 2))
            child = hierarchy[0][child][0]
        polygons.append(((ring - 1 + 0.5) / 2.0).ravel().tolist())
    return polygons


def _bridge(ring: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """One ring holding ``hole``, joined by a zero-width cut from the hole's first (top-left)
    point to the nearest ring point: traversed both ways, the cut cancels in even-odd filling."""
    a = int(np.argmin(((ring - hole[0]).astype(np.int64) ** 2).sum(axis=1)))
    return np.concatenate([ring[:a + 1], hole, hole[:1], ring[a:]])


def _mask_bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def points_bbox(xy: np.ndarray) -> list[float]:
    """COCO [x, y, w, h] around (n, 2) points (zero-sized for one point)."""
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _person_mask(person: PersonLike) -> np.ndarray | None:
    mask = getattr(person, "mask", None)
    return mask if mask is not None and np.any(mask) else None


def detections_to_results(image_id: int, people: Iterable[PersonLike]) -> list[dict]:
    """COCO results entries for one image; segmentation (RLE) and bbox when a mask exists."""
    records = []
    for person in people:
        keypoints = np.asarray(person.keypoints, dtype=np.float64)
        record = {"image_id": int(image_id), "category_id": PERSON_CATEGORY_ID,
                  "keypoints": _round_triples(keypoints, score_slot=True),
                  "score": round(float(person.score), 6)}
        mask = _person_mask(person)
        if mask is not None:
            record["segmentation"] = mask_to_rle(mask)
            record["bbox"] = _mask_bbox(mask)
        records.append(record)
    return records


def detections_to_dataset(images: Sequence[dict], people_per_image: Iterable[Sequence[PersonLike]],
                          threshold: float = DEFAULT_LABEL_THRESHOLD) -> dict:
    """A full COCO dataset of pseudo-labels: per image, the people ``pseudo_labels`` lets
    become labels at ``threshold``; labelled keypoints get v=2, the others are written
    0, 0, 0; polygons when a mask exists; a "score" per person."""
    annotations: list[dict] = []
    for image, people in zip(images, people_per_image, strict=True):
        image_hw = (image["height"], image["width"])
        for i in select_labels(people, image_hw, threshold):
            annotations.append(_pseudo_label(people[i], image["id"], len(annotations) + 1, image_hw))
    return {"images": [{key: image[key] for key in IMAGE_FIELDS} for image in images],
            "annotations": annotations, "categories": [coco_person_category()]}


def _pseudo_label(person: PersonLike, image_id: int, ann_id: int, image_hw: tuple[int, int]) -> dict:
    keypoints = labelled_keypoints(person.keypoints, image_hw)
    kept = keypoints[:, 2] > 0
    keypoints[~kept] = 0.0
    mask = _person_mask(person)
    polygons = mask_to_polygons(mask) if mask is not None else []
    bbox = _mask_bbox(mask) if mask is not None else points_bbox(keypoints[kept, :2])
    ann = {"id": ann_id, "image_id": int(image_id), "category_id": PERSON_CATEGORY_ID,
           "keypoints": _round_triples(keypoints, score_slot=False), "num_keypoints": int(kept.sum()),
           "bbox": bbox, "area": float(mask.sum()) if mask is not None else bbox[2] * bbox[3],
           "iscrowd": 0, "score": round(float(person.score), 6)}
    if polygons:
        ann["segmentation"] = polygons
    return ann


def _round_triples(keypoints: np.ndarray, score_slot: bool) -> list[float]:
    """Flat [x, y, third] * K: x, y to 0.01 px; third a score (rounded) or an int visibility."""
    flat: list[float] = []
    for x, y, third in keypoints.tolist():
        flat += [round(x, 2), round(y, 2), round(third, 4) if score_slot else int(third)]
    return flat


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def results_json(records: list[dict]) -> str:
    """Compact JSON text of COCO records (numpy scalars and arrays converted)."""
    return json.dumps(records, separators=(",", ":"), default=_json_default)


def write_json_atomic(path: str | os.PathLike, obj: object) -> None:
    """Write JSON via a temporary file in the same folder, fsync, then ``os.replace``."""
    path = Path(path)
    text = json.dumps(obj, separators=(",", ":"), default=_json_default)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(path, f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
