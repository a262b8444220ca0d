"""COCO files <-> projects: an all-or-nothing import and a self-checked export.

Import (``import_coco``) validates everything before writing: the COCO format and every
geometry against its image (``data.coco_read.load_coco``), a person category with 17 keypoint
names, unique file names, image files that exist inside the image folder and the
project's image root and whose size is the width and height the file states, numeric
scores, and that its people were not imported into the same images before (same
annotation ids, ``DuplicateImportError`` unless ``add_duplicates``). Then it adds the
images and people in ONE transaction. Annotations of other categories are skipped.
People carrying a "score" (``personlab-gui infer --format dataset`` output) become
``predicted``, the others ``manual``; people without keypoints keep 17 v = 0 keypoints
and their mask. Images already in the project are reused and their people kept, but
their predictions are replaced: the model's people are not stored where people were
imported (``Project.close_predictions``).

Export (``project_to_coco`` + ``export_coco``) writes ids >= 1 (the project's own ids),
float coordinates, v = 0 keypoints as 0, 0, 0, recomputed ``num_keypoints``, polygons for
``iscrowd = 0`` (RLE with ``rle=True``), RLE for ``iscrowd = 1``, a "score" where the
person has one, and the COCO person category. Every annotation can be evaluated by
pycocotools for keypoints AND segm: it has a ``bbox``, an ``area`` > 0 and a
``segmentation``. For a person without a mask these are its box (around its labelled
keypoints, at least a pixel each way, else its stored box) and that box as a polygon:
COCO tools (pycocotools' segm evaluation and ``annToMask``, CVAT, detectron2) expect a
segmentation on every person, and dropping the person would lose its keypoint labels,
the work a keypoint annotator cares about. A person with no mask, keypoint or box is
left out with a warning. Before writing, the output is loaded in pycocotools and every
person is scored against itself (``check_self_consistent``): any AP other than 1.0
refuses the export.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..data.coco_read import PERSON_CATEGORY_ID, load_coco, validate_coco
from ..data.coco_write import mask_to_polygons, write_json_atomic
from ..data.image_io import safe_join
from ..errors import CocoFormatError, InputError
from ..skeleton import K, coco_person_category
from .records import ImageRecord, PersonRecord
from .store import Project, displayed_size


@dataclass(frozen=True)
class CocoCounts:
    """What an import or export moved."""

    images: int
    people: int
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- import

class DuplicateImportError(CocoFormatError):
    """People of a COCO file were imported into the same images before (same annotation ids)."""

    def __init__(self, path: str | os.PathLike, problem: str, count: int, total: int) -> None:
        super().__init__(path, problem)
        self.count, self.total = count, total

    def __reduce__(self):
        return type(self), (self.path, self.problem, self.count, self.total)


def import_coco(project: Project, coco_path: str | os.PathLike, images_dir: str | os.PathLike,
                add_duplicates: bool = False) -> CocoCounts:
    """Import a COCO file whose ``file_name``s are relative to ``images_dir`` (inside the
    project's image root). Any problem raises a one-line ``InputError`` (``CocoFormatError``
    for the file's content) and leaves the project unchanged. People imported before into
    the same images under the same annotation ids raise ``DuplicateImportError`` unless
    ``add_duplicates``."""
    data = load_coco(coco_path)
    category = _person_category(data, coco_path)
    files = [_image_file(image, Path(os.path.abspath(images_dir)), coco_path) for image in data["images"]]
    paths = [_relative_path(project, file, image, coco_path) for file, image in zip(files, data["images"])]
    if len(set(paths)) < len(paths):
        raise CocoFormatError(coco_path, "two images share one file_name")
    sizes = [_checked_size(image, file, coco_path) for image, file in zip(data["images"], files)]
    image_hw = {image["id"]: (image["height"], image["width"]) for image in data["images"]}
    people = [(ann, _person(ann, image_hw[ann["image_id"]], coco_path))
              for ann in data["annotations"] if ann["category_id"] == category]
    path_of = {image["id"]: path for image, path in zip(data["images"], paths)}
    if not add_duplicates:
        _refuse_duplicates(project, [(path_of[ann["image_id"]], ann["id"]) for ann, _ in people], coco_path)
    with project.transaction():
        ids = project.add_images(paths, sizes)
        project_ids = {image["id"]: image_id for image, image_id in zip(data["images"], ids)}
        for image_id in {project_ids[ann["image_id"]] for ann, _ in people}:
            project.close_predictions(image_id)   # imported people replace the model's
        for ann, person in people:
            person_id = project.add_person(project_ids[ann["image_id"]], person)
            project.record_coco_source(person_id, ann["id"])
    return CocoCounts(len(ids), len(people))


def _relative_path(project: Project, file: Path, image: dict, coco_path: str | os.PathLike) -> str:
    try:
        return project.relative_path(file)
    except InputError as exc:
        raise CocoFormatError(coco_path, f"{exc} (image id {image['id']})") from None


def _checked_size(image: dict, file: Path, coco_path: str | os.PathLike) -> tuple[int, int]:
    """The image's (width, height), refused when the file's own size differs."""
    try:
        width, height = displayed_size(file)
    except InputError as exc:
        raise CocoFormatError(coco_path, f"{exc.problem}: {file} (image id {image['id']})") from None
    if (width, height) != (image["width"], image["height"]):
        raise CocoFormatError(coco_path, f"width x height {image['width']} x {image['height']} but the file "
                                         f"{image['file_name']} is {width} x {height} (image id {image['id']})")
    return width, height


def _refuse_duplicates(project: Project, sources: list[tuple[str, int]], coco_path: str | os.PathLike) -> None:
    known = project.coco_sources({path for path, _ in sources})
    repeated = [source for source in sources if source in known]
    if repeated:
        path, ann_id = repeated[0]
        raise DuplicateImportError(
            coco_path, f"{len(repeated)} of its {len(sources)} people were imported into these images "
                       f"before (e.g. annotation id {ann_id} on {path}); importing again would double "
                       "them (add them anyway with --add-duplicates)", len(repeated), len(sources))


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
        found = file.is_file()
    except InputError as exc:
        raise CocoFormatError(coco_path, f"{exc} {where}") from None
    except OSError as exc:
        raise CocoFormatError(coco_path, f"image file unreadable ({exc.strerror}): {image['file_name']} {where}") from None
    if not found:
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
    """Write the project (or its reviewed images) as a COCO dataset, self-checked, atomically;
    the counts carry one warning per person left out. A damaged project file is refused."""
    project.check_integrity()
    skipped: list[str] = []
    data = project_to_coco(project, reviewed_only, rle, skipped)
    check_self_consistent(data, out)
    write_json_atomic(out, data)
    return CocoCounts(len(data["images"]), len(data["annotations"]), tuple(skipped))


def project_to_coco(project: Project, reviewed_only: bool = False, rle: bool = False,
                    skipped: list[str] | None = None) -> dict:
    """The COCO dataset of the project's images in browsing order (see the module
    docstring); a line per person with nothing to write goes to ``skipped``."""
    images, annotations = [], []
    for image_id in project.image_ids(reviewed_only):
        image = project.image(image_id)
        images.append({"id": image.id, "file_name": image.path, "width": image.width, "height": image.height})
        for person_id, person in project.people(image_id).items():
            ann = _annotation(person_id, image, person, rle)
            if ann is not None:
                annotations.append(ann)
            elif skipped is not None:
                skipped.append(f"person {person_id} on {image.path}: no mask, keypoint or box; not exported")
    return {"images": images, "annotations": annotations, "categories": [coco_person_category()]}


def _annotation(person_id: int, image: ImageRecord, person: PersonRecord, rle: bool) -> dict | None:
    keypoints = person.keypoints.copy()
    keypoints[keypoints[:, 2] == 0] = 0.0
    area = person.mask_area()
    if area:
        bbox = list(person.geometry_bbox())
        polygons = [] if rle or person.iscrowd else _polygons(person)
        segmentation = polygons or dict(person.mask_rle)
    else:
        bbox = _maskless_box(person, image)
        if bbox is None:
            return None
        area = bbox[2] * bbox[3]
        segmentation = _box_segmentation(bbox, image, rle or person.iscrowd)
    ann = {"id": person_id, "image_id": image.id, "category_id": PERSON_CATEGORY_ID,
           "keypoints": [value for x, y, v in keypoints.tolist() for value in (float(x), float(y), int(v))],
           "num_keypoints": int((keypoints[:, 2] > 0).sum()), "bbox": bbox, "area": float(area),
           "segmentation": segmentation, "iscrowd": person.iscrowd}
    if person.score is not None:
        ann["score"] = person.score
    return ann


def _maskless_box(person: PersonRecord, image: ImageRecord) -> list[float] | None:
    """The box standing for a person without a mask: around its labelled keypoints (else its
    stored box), at least one pixel each way and moved onto the image; None if it has neither."""
    x, y, w, h = person.geometry_bbox() or person.bbox
    if (w, h) == (0.0, 0.0) and not (person.keypoints[:, 2] > 0).any():
        return None
    w, h = max(w, 1.0), max(h, 1.0)
    x = max(0.0, min(x, image.width - w))
    y = max(0.0, min(y, image.height - h))
    return [x, y, min(w, float(image.width)), min(h, float(image.height))]


def _box_segmentation(bbox: list[float], image: ImageRecord, as_rle: bool) -> list | dict:
    x, y, w, h = bbox
    polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
    if not as_rle:
        return [polygon]
    encoded = mask_utils.merge(mask_utils.frPyObjects([polygon], image.height, image.width))
    return {"size": [image.height, image.width], "counts": encoded["counts"].decode("ascii")}


def _polygons(person: PersonRecord) -> list[list[float]]:
    """Polygons of the person's mask, traced on its bounding box only (faster), then shifted."""
    x, y, w, h = (int(v) for v in mask_utils.toBbox(person.mask_rle))
    crop = person.mask()[y:y + h, x:x + w]
    return [(np.reshape(polygon, (-1, 2)) + (x, y)).ravel().tolist() for polygon in mask_to_polygons(crop)]


def check_self_consistent(data: dict, where: str | os.PathLike) -> None:
    """Load ``data`` as pycocotools would read it from disk and score every person against
    itself, keypoints and segm; raise a one-line ``CocoFormatError`` unless every AP is 1.0
    (or -1: nothing to score). Each person is scored alone (one COCOeval image per person):
    the time is linear in people, and a person whose labelled keypoints are a subset of a
    neighbour's (a valid file) cannot steal the neighbour's match."""
    data = json.loads(json.dumps(data))
    validate_coco(data, where)
    for iou_type in ("keypoints", "segm"):
        ap = _self_ap(data, iou_type)
        if ap != -1.0 and not math.isclose(ap, 1.0, abs_tol=1e-9):  # COCOeval divides by tp + fp + eps
            raise CocoFormatError(where, f"export self-check failed: {iou_type} AP {ap:.4f} "
                                         "against itself (expected 1.0); nothing written")


def _self_ap(data: dict, iou_type: str) -> float:
    """AP (all areas) of the non-crowd people scored as their own detections, each person
    in an image of its own."""
    field = "keypoints" if iou_type == "keypoints" else "segmentation"
    sizes = {image["id"]: image for image in data["images"]}
    images, annotations = [], []
    for ann in data["annotations"]:
        if field in ann:  # a copy: COCOeval writes into annotations
            image = sizes[ann["image_id"]]
            images.append({"id": len(images) + 1, "width": image["width"], "height": image["height"]})
            annotations.append({**ann, "image_id": len(images)})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": annotations, "categories": data["categories"]}
        coco.createIndex()
        detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                       field: a["keypoints"] if field == "keypoints" else coco.annToRLE(a)}
                      for a in annotations if not a["iscrowd"] and (a["num_keypoints"] > 0 or field != "keypoints")]
        if not detections:
            return -1.0
        evaluator = COCOeval(coco, coco.loadRes(detections), iou_type)
        evaluator.params.imgIds = sorted({d["image_id"] for d in detections})
        evaluator.params.areaRng, evaluator.params.areaRngLbl = [[0, 1e10]], ["all"]
        evaluator.params.maxDets = [1]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, :, 0, 0]
    scored = precision[precision > -1]
    return float(scored.mean()) if scored.size else -1.0
