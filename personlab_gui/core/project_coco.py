"""COCO files <-> projects: an all-or-nothing import and a self-checked export.

Import (``import_coco``) validates everything before writing: the COCO format
(``coco_io.load_coco``), a person category with 17 keypoint names, unique file names,
image files that exist inside the image folder and the project's image root, numeric
scores. Then it adds the images and people in ONE transaction. Annotations of other
categories are skipped. People carrying a "score" (``personlab-gui infer --format
dataset`` output) become ``predicted``, the others ``manual``; people without keypoints
keep 17 v = 0 keypoints and their mask. Images already in the project are reused and
their people kept (new people are added).

Export (``project_to_coco`` + ``export_coco``) writes ids >= 1 (the project's own ids),
float coordinates, v = 0 keypoints as 0, 0, 0, recomputed ``num_keypoints``, ``area``
from the mask (else from the bbox), ``bbox`` around the mask (else around the labelled
keypoints, else the stored box: ``PersonRecord.geometry_bbox``), polygons for
``iscrowd = 0`` (RLE with ``rle=True``), RLE for ``iscrowd = 1``, a "score" where the
person has one, and the COCO person category. Before writing, the output is loaded in
pycocotools and evaluated against itself (keypoints, and segm when masks exist): any AP
other than 1.0 refuses the export.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .coco_io import PERSON_CATEGORY_ID, load_coco, mask_to_polygons, validate_coco, write_json_atomic
from .errors import CocoFormatError, InputError
from .image_io import safe_join
from .project import ImageRecord, PersonRecord, Project
from .skeleton import K, coco_person_category


@dataclass(frozen=True)
class CocoCounts:
    """What an import or export moved."""

    images: int
    people: int


# --------------------------------------------------------------------------- import

def import_coco(project: Project, coco_path: str | os.PathLike, images_dir: str | os.PathLike) -> CocoCounts:
    """Import a COCO file whose ``file_name``s are relative to ``images_dir`` (inside the
    project's image root). Any problem raises a one-line ``InputError`` (``CocoFormatError``
    for the file's content) and leaves the project unchanged."""
    data = load_coco(coco_path)
    category = _person_category(data, coco_path)
    files = [_image_file(image, Path(os.path.abspath(images_dir)), coco_path) for image in data["images"]]
    paths = [project.relative_path(file) for file in files]
    if len(set(paths)) < len(paths):
        raise CocoFormatError(coco_path, "two images share one file_name")
    sizes = {image["id"]: (image["height"], image["width"]) for image in data["images"]}
    people = [(ann["image_id"], _person(ann, sizes[ann["image_id"]], coco_path))
              for ann in data["annotations"] if ann["category_id"] == category]
    with project.transaction():
        ids = project.add_images(paths, [(image["width"], image["height"]) for image in data["images"]])
        project_ids = {image["id"]: image_id for image, image_id in zip(data["images"], ids)}
        for coco_image_id, person in people:
            project.add_person(project_ids[coco_image_id], person)
    return CocoCounts(len(ids), len(people))


def _person_category(data: dict, coco_path: str | os.PathLike) -> int:
    found = [c for c in data["categories"] if c["name"] == "person"]
    if not found:
        raise CocoFormatError(coco_path, "no 'person' category")
    names = found[0].get("keypoints")
    if names is not None and len(names) != K:
        raise CocoFormatError(coco_path, f"the person category lists {len(names)} keypoints, expected {K}")
    return found[0]["id"]


def _image_file(image: dict, images_dir: Path, coco_path: str | os.PathLike) -> Path:
    where = f"(image id {image['id']})"
    try:
        file = safe_join(images_dir, image["file_name"])
    except InputError as exc:
        raise CocoFormatError(coco_path, f"{exc} {where}") from None
    if not file.is_file():
        raise CocoFormatError(coco_path, f"image file not found: {file} {where}")
    return file


def _person(ann: dict, image_hw: tuple[int, int], coco_path: str | os.PathLike) -> PersonRecord:
    score = ann.get("score")
    if score is not None and not (type(score) in (int, float) and math.isfinite(score)):
        raise CocoFormatError(coco_path, f"score must be a finite number (annotation id {ann['id']})")
    keypoints = np.reshape(ann.get("keypoints", [0] * (3 * K)), (K, 3))
    segmentation = ann.get("segmentation")
    return PersonRecord(keypoints, _rle(segmentation, *image_hw) if segmentation else None,
                        tuple(ann["bbox"]), ann["iscrowd"], score,
                        "predicted" if score is not None else "manual")


def _rle(segmentation: list | dict, height: int, width: int) -> dict:
    """Compressed RLE of polygons, uncompressed RLE or compressed RLE."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation


# --------------------------------------------------------------------------- export

def export_coco(project: Project, out: str | os.PathLike, reviewed_only: bool = False,
                rle: bool = False) -> CocoCounts:
    """Write the project (or its reviewed images) as a COCO dataset, self-checked, atomically."""
    data = project_to_coco(project, reviewed_only, rle)
    check_self_consistent(data, out)
    write_json_atomic(out, data)
    return CocoCounts(len(data["images"]), len(data["annotations"]))


def project_to_coco(project: Project, reviewed_only: bool = False, rle: bool = False) -> dict:
    """The COCO dataset of the project's images in browsing order (see the module docstring)."""
    images, annotations = [], []
    for image_id in project.image_ids(reviewed_only):
        image = project.image(image_id)
        images.append({"id": image.id, "file_name": image.path, "width": image.width, "height": image.height})
        annotations += [_annotation(person_id, image, person, rle)
                        for person_id, person in project.people(image_id).items()]
    return {"images": images, "annotations": annotations, "categories": [coco_person_category()]}


def _annotation(person_id: int, image: ImageRecord, person: PersonRecord, rle: bool) -> dict:
    keypoints = person.keypoints.copy()
    keypoints[keypoints[:, 2] == 0] = 0.0
    bbox = list(person.geometry_bbox() or person.bbox)
    area = person.mask_area()
    ann = {"id": person_id, "image_id": image.id, "category_id": PERSON_CATEGORY_ID,
           "keypoints": [value for x, y, v in keypoints.tolist() for value in (float(x), float(y), int(v))],
           "num_keypoints": int((keypoints[:, 2] > 0).sum()), "bbox": bbox,
           "area": float(area) if area else bbox[2] * bbox[3], "iscrowd": person.iscrowd}
    if area:
        polygons = [] if rle or person.iscrowd else _polygons(person)
        ann["segmentation"] = polygons or dict(person.mask_rle)
    if person.score is not None:
        ann["score"] = person.score
    return ann


def _polygons(person: PersonRecord) -> list[list[float]]:
    """Polygons of the person's mask, traced on its bounding box only (faster), then shifted."""
    x, y, w, h = (int(v) for v in mask_utils.toBbox(person.mask_rle))
    crop = person.mask()[y:y + h, x:x + w]
    return [(np.reshape(polygon, (-1, 2)) + (x, y)).ravel().tolist() for polygon in mask_to_polygons(crop)]


def check_self_consistent(data: dict, where: str | os.PathLike) -> None:
    """Load ``data`` as pycocotools would read it from disk and evaluate it against itself;
    raise a one-line ``CocoFormatError`` unless every AP is 1.0 (or -1: nothing to score)."""
    data = json.loads(json.dumps(data))
    validate_coco(data, where)
    iou_types = ["keypoints"] + (["segm"] if any("segmentation" in a for a in data["annotations"]) else [])
    for iou_type in iou_types:
        ap = _self_ap(data, iou_type)
        if ap != -1.0 and not math.isclose(ap, 1.0, abs_tol=1e-9):  # COCOeval divides by tp + fp + eps
            raise CocoFormatError(where, f"export self-check failed: {iou_type} AP {ap:.4f} "
                                         "against itself (expected 1.0); nothing written")


def _self_ap(data: dict, iou_type: str) -> float:
    """AP (all areas, no detection cap) of the non-crowd people scored as their own detections."""
    field = "keypoints" if iou_type == "keypoints" else "segmentation"
    gt = {**data, "annotations": [dict(a) for a in data["annotations"] if field in a]}  # COCOeval writes into them
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                       field: a["keypoints"] if field == "keypoints" else coco.annToRLE(a)}
                      for a in gt["annotations"]
                      if not a["iscrowd"] and (a["num_keypoints"] > 0 or field != "keypoints")]
        if not detections:
            return -1.0
        evaluator = COCOeval(coco, coco.loadRes(detections), iou_type)
        evaluator.params.maxDets = [Counter(d["image_id"] for d in detections).most_common(1)[0][1]]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, :, 0, -1]
    scored = precision[precision > -1]
    return float(scored.mean()) if scored.size else -1.0
