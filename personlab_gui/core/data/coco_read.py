"""Reading COCO person datasets: ``load_coco`` parses and validates everything
pycocotools would trust, before any pycocotools call, with one-line ``CocoFormatError``s.

Polygons, boxes and labelled keypoints must lie on their image (give or take
``EDGE_TOLERANCE`` pixels plus ``EDGE_TOLERANCE_SHARE`` of the side: huge coordinates
crash or exhaust pycocotools' rasteriser), RLE must have the image's size and runs that
cover it exactly (compressed text decoded here), ids and sizes must fit 64 bits, file
names must be usable paths; deep nesting and over-long integers are JSON errors. Every
COCO reader (project import, ``eval --gt``, training, the app) goes through it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path


from ..errors import CocoFormatError
from .image_io import MAX_PIXELS
from ..skeleton import K

PERSON_CATEGORY_ID = 1
TOP_LEVEL_KEYS = ("images", "annotations", "categories")
IMAGE_FIELDS = ("id", "file_name", "width", "height")
ANNOTATION_FIELDS = ("id", "image_id", "category_id", "bbox", "area", "iscrowd")
#: Geometry may stray this many pixels, plus this share of the image side, off the image.
EDGE_TOLERANCE = 1.0
EDGE_TOLERANCE_SHARE = 0.02
_MAX_ID = 2 ** 63 - 1
_MAX_PATH_BYTES, _MAX_NAME_BYTES = 4096, 255
_MAX_RLE_SHIFT = 40  # bits of one run of compressed RLE text: runs over 2 ** 40 pixels are invalid


class _Invalid(Exception):
    """A format problem, before the file name is attached."""


def load_coco(path: str | os.PathLike) -> dict:
    """Parse and validate a COCO JSON file; any problem is a one-line ``CocoFormatError``."""
    data = _read_json(Path(path))
    validate_coco(data, path)
    return data


def validate_coco(data: object, source: str | os.PathLike = "<dataset>") -> None:
    """Raise ``CocoFormatError("<source>: <problem> (annotation id N)")`` on the first problem."""
    try:
        _validate(data)
    except _Invalid as exc:
        raise CocoFormatError(source, str(exc)) from None


def _read_json(path: Path) -> object:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise CocoFormatError(path, "file not found") from None
    except IsADirectoryError:
        raise CocoFormatError(path, "is a folder, not a JSON file") from None
    except OSError as exc:
        raise CocoFormatError(path, f"cannot read: {exc.strerror}") from None
    if not text.strip():
        raise CocoFormatError(path, "empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CocoFormatError(path, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise CocoFormatError(path, "invalid JSON: not UTF-8 text") from None
    except RecursionError:
        raise CocoFormatError(path, "invalid JSON: nested too deeply") from None
    except ValueError:  # Python's limit on digits of an integer
        raise CocoFormatError(path, "invalid JSON: an integer with too many digits") from None


def _validate(data: object) -> None:
    if not isinstance(data, dict):
        raise _Invalid("top level is not a JSON object")
    for key in TOP_LEVEL_KEYS:
        if key not in data:
            raise _Invalid(f"missing top-level key '{key}'")
        if not isinstance(data[key], list):
            raise _Invalid(f"'{key}' is not a list")
    image_sizes = _validate_images(data["images"])
    category_ids = _validate_categories(data["categories"])
    seen: set[int] = set()
    for index, ann in enumerate(data["annotations"]):
        where = f"annotation id {ann['id']}" if isinstance(ann, dict) and _is_int(ann.get("id")) else f"annotations[{index}]"
        try:
            _validate_annotation(ann, image_sizes, category_ids, seen)
        except _Invalid as exc:
            raise _Invalid(f"{exc} ({where})") from None


def _validate_images(images: list) -> dict[int, tuple[int, int]]:
    """Image id -> (height, width)."""
    sizes: dict[int, tuple[int, int]] = {}
    for index, image in enumerate(images):
        where = _image_where(image, index)
        if not isinstance(image, dict):
            raise _Invalid(f"image entry is not an object ({where})")
        _require_fields(image, IMAGE_FIELDS, where)
        if not _is_int(image["id"]):
            raise _Invalid(f"image id is not an integer ({where})")
        width, height = image["width"], image["height"]
        if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):
            raise _Invalid(f"width and height must be positive integers ({where})")
        if width * height > MAX_PIXELS:
            raise _Invalid(f"{width} x {height} is over {MAX_PIXELS / 1e6:.0f} megapixels ({where})")
        problem = _file_name_problem(image["file_name"])
        if problem:
            raise _Invalid(f"file_name {problem} ({where})")
        if image["id"] in sizes:
            raise _Invalid(f"image id used twice ({where})")
        sizes[image["id"]] = (height, width)
    return sizes


def _image_where(image: object, index: int) -> str:
    if not (isinstance(image, dict) and _is_int(image.get("id"))):
        return f"images[{index}]"
    name = image.get("file_name")
    return f"image id {image['id']}" + (f", {name}" if isinstance(name, str) and "\x00" not in name else "")


def _file_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a COCO ``file_name`` (a relative file path), or None."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if "\x00" in name:
        return "contains a NUL byte"
    encoded = os.fsencode(name)
    if len(encoded) > _MAX_PATH_BYTES or any(len(part) > _MAX_NAME_BYTES for part in encoded.split(b"/")):
        return "is too long for a file path"
    return None


def _validate_categories(categories: list) -> set[int]:
    ids: set[int] = set()
    for index, category in enumerate(categories):
        if not (isinstance(category, dict) and _is_int(category.get("id")) and isinstance(category.get("name"), str)):
            raise _Invalid(f"category needs an integer 'id' and a 'name' string (categories[{index}])")
        names = category.get("keypoints")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise _Invalid(f"category 'keypoints' must be a list of names (category id {category['id']})")
        ids.add(category["id"])
    return ids


def _validate_annotation(ann: object, image_sizes: dict[int, tuple[int, int]],
                         category_ids: set[int], seen: set[int]) -> None:
    if not isinstance(ann, dict):
        raise _Invalid("annotation is not an object")
    _require_fields(ann, ANNOTATION_FIELDS)
    for name in ("id", "image_id", "category_id"):
        if not _is_int(ann[name]):
            raise _Invalid(f"'{name}' is not an integer")
    if ann["id"] in seen:
        raise _Invalid("annotation id used twice")
    seen.add(ann["id"])
    if ann["image_id"] not in image_sizes:
        raise _Invalid(f"unknown image id {ann['image_id']}")
    if ann["category_id"] not in category_ids:
        raise _Invalid(f"unknown category id {ann['category_id']}")
    image_hw = image_sizes[ann["image_id"]]
    _validate_bbox(ann["bbox"], image_hw)
    if not (_numbers([ann["area"]]) and ann["area"] >= 0):
        raise _Invalid("area must be a finite number >= 0")
    if not _is_int(ann["iscrowd"]) or ann["iscrowd"] not in (0, 1):
        raise _Invalid("iscrowd must be 0 or 1")
    if "keypoints" in ann:
        _validate_keypoints(ann, image_hw)
    if "segmentation" in ann:
        _validate_segmentation(ann["segmentation"], image_hw)


def _validate_bbox(bbox: object, image_hw: tuple[int, int]) -> None:
    if not (isinstance(bbox, list) and len(bbox) == 4 and _numbers(bbox) and bbox[2] >= 0 and bbox[3] >= 0):
        raise _Invalid("bbox must be 4 finite numbers [x, y, w, h] with w, h >= 0")
    x, y, w, h = bbox
    if not (_inside([x, x + w], image_hw[1]) and _inside([y, y + h], image_hw[0])):
        raise _Invalid(f"bbox {bbox} lies outside the {image_hw[1]} x {image_hw[0]} image")


def _validate_keypoints(ann: dict, image_hw: tuple[int, int]) -> None:
    keypoints = ann["keypoints"]
    if not (isinstance(keypoints, list) and len(keypoints) == 3 * K and _numbers(keypoints)):
        count = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        raise _Invalid(f"keypoints must be {3 * K} finite numbers (x, y, v) * {K}, got {count}")
    bad = [v for v in keypoints[2::3] if v not in (0, 1, 2)]
    if bad:
        raise _Invalid(f"keypoint visibility must be 0, 1 or 2, got {bad[0]}")
    for k in range(K):
        x, y, v = keypoints[3 * k:3 * k + 3]
        if v and not (_inside([x], image_hw[1]) and _inside([y], image_hw[0])):
            raise _Invalid(f"keypoint {k} at ({x}, {y}) lies outside the {image_hw[1]} x {image_hw[0]} image "
                           "(label it v = 0 instead)")
    if "num_keypoints" not in ann:
        raise _Invalid("missing field 'num_keypoints'")
    count = ann["num_keypoints"]
    if not (_is_int(count) and 0 <= count <= K):
        raise _Invalid(f"num_keypoints must be an integer from 0 to {K}")


def _validate_segmentation(seg: object, image_hw: tuple[int, int]) -> None:
    if isinstance(seg, list):
        if not seg:
            raise _Invalid("empty segmentation list (omit the field instead)")
        for polygon in seg:
            if not (isinstance(polygon, list) and _numbers(polygon)):
                raise _Invalid("polygon must be a list of numbers")
            if len(polygon) < 6 or len(polygon) % 2:
                raise _Invalid(f"polygon with {len(polygon)} coordinates (needs an even number >= 6)")
            if not (_inside(polygon[0::2], image_hw[1]) and _inside(polygon[1::2], image_hw[0])):
                raise _Invalid(f"polygon lies outside the {image_hw[1]} x {image_hw[0]} image")
    elif isinstance(seg, dict):
        _validate_rle(seg, image_hw)
    else:
        raise _Invalid("segmentation must be a list of polygons or an RLE object")


def _validate_rle(rle: dict, image_hw: tuple[int, int]) -> None:
    for key in ("size", "counts"):
        if key not in rle:
            raise _Invalid(f"RLE segmentation missing '{key}'")
    size, counts = rle["size"], rle["counts"]
    if not (isinstance(size, list) and all(_is_int(s) for s in size) and size == list(image_hw)):
        raise _Invalid(f"RLE size {size} does not match the image size [height, width] {list(image_hw)}")
    if isinstance(counts, list):
        if not all(_is_int(c) and 0 <= c <= _MAX_ID for c in counts):
            raise _Invalid("RLE counts must be non-negative integers")
    elif isinstance(counts, str):
        counts = rle_string_runs(counts)
        if counts is None:
            raise _Invalid("RLE counts string is not valid compressed RLE")
    else:
        raise _Invalid("RLE counts must be a string or a list of integers")
    if sum(counts) != image_hw[0] * image_hw[1]:
        raise _Invalid(f"RLE counts sum to {sum(counts)}, expected height * width = {image_hw[0] * image_hw[1]}")


def rle_string_runs(counts: str) -> list[int] | None:
    """The run lengths of compressed RLE text, decoded like pycocotools' ``rleFrString``
    (6-bit groups from '0', 5 value bits, a continuation bit, runs after the second
    stored as differences), or None when the text is not valid compressed RLE."""
    runs: list[int] = []
    value = shift = 0
    for char in counts:
        c = ord(char) - 48
        if not 0 <= c < 64 or shift > _MAX_RLE_SHIFT:
            return None
        value |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:
            continue
        if c & 0x10:
            value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            return None
        runs.append(value)
        value = shift = 0
    return runs if shift == 0 else None


def _require_fields(record: dict, fields: Sequence[str], where: str = "") -> None:
    for name in fields:
        if name not in record:
            raise _Invalid(f"missing field '{name}'" + (f" ({where})" if where else ""))


def _is_int(value: object) -> bool:
    """An int (bools excluded) that fits 64 bits, as every id and size must."""
    return type(value) is int and -_MAX_ID - 1 <= value <= _MAX_ID


def _numbers(values: Iterable) -> bool:
    """All finite floats or 64-bit ints (bools excluded)."""
    return all(math.isfinite(v) if type(v) is float else _is_int(v) for v in values)


def _inside(values: Sequence[float], side: int) -> bool:
    """Whether coordinates along an image side of ``side`` pixels lie on the image, give
    or take ``EDGE_TOLERANCE`` pixels plus ``EDGE_TOLERANCE_SHARE`` of the side."""
    slack = EDGE_TOLERANCE + EDGE_TOLERANCE_SHARE * side
    return -slack <= min(values) and max(values) <= side + slack
