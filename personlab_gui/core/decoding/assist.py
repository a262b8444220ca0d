"""Model-assisted corrections, computed from an ``InferenceResult`` without the network:
the Hough maximum nearest a keypoint, the basin of attraction under a pixel, and person
masks re-assigned from the embedding once keypoints were corrected.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from ..data.boxes import Box, nonzero_box, slices
from .result import InferenceResult, Person
from .segment import add_masks
from ..skeleton import DISK_RADIUS, SEGMENTATION_THRESHOLD

#: A keypoint snaps to Hough maxima within this many network-input pixels (the disk radius R).
SNAP_RADIUS = DISK_RADIUS


def nearest_maximum(result: InferenceResult, keypoint: int, xy: np.ndarray) -> np.ndarray | None:
    """Image position of the Hough maximum of type ``keypoint`` nearest to image pixel
    ``xy``, if one lies within ``SNAP_RADIUS``."""
    candidates = result.candidates[keypoint]
    if not len(candidates):
        return None
    distance = np.hypot(*(candidates[:, :2] - result.transform.to_input(xy)).T)
    best = int(np.argmin(distance))
    return result.transform.to_image(candidates[best, :2]) if distance[best] <= SNAP_RADIUS else None


def person_pixels(result: InferenceResult, box: Box) -> np.ndarray:
    """(rows, cols) bool of ``box``: segmentation p_S >= threshold, bilinear at each pixel."""
    x0, y0, x1, y1 = box
    grid_x = result.image_to_grid(np.column_stack([np.arange(x0, x1), np.zeros(x1 - x0)]))[:, 0]
    grid_y = result.image_to_grid(np.column_stack([np.zeros(y1 - y0), np.arange(y0, y1)]))[:, 1]
    map_x, map_y = np.meshgrid(grid_x.astype(np.float32), grid_y.astype(np.float32))
    sampled = cv2.remap(result.segmentation.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    return sampled >= SEGMENTATION_THRESHOLD


def basin_region(result: InferenceResult, xy: np.ndarray) -> tuple[Box, np.ndarray] | None:
    """The person pixels of the basin of attraction holding image pixel ``xy`` (its box and
    the mask inside it); None outside the image, without basins, or when it is empty."""
    if result.basins is None or result.segmentation is None:
        return None
    col, row = np.rint(xy).astype(int)
    if not (0 <= row < result.image_hw[0] and 0 <= col < result.image_hw[1]):
        return None
    inside = result.basins == result.basins[row, col]
    box = nonzero_box(inside)
    if box is None:
        return None
    region = inside[slices(box)] & person_pixels(result, box)
    return (box, region) if region.any() else None


def reassigned_masks(result: InferenceResult, keypoints: list[np.ndarray],
                     assignment: str = "embedding") -> list[np.ndarray]:
    """(H, W) masks of people with these (17, 3) x, y, v keypoints, each having at least
    one labelled (v > 0) keypoint: the result's mask assignment re-run on a copy of it."""
    people = [Person(_embedding_targets(k), score=1.0) for k in keypoints]
    copy = dataclasses.replace(result, people=people)
    add_masks(copy, result.segmentation, result.long_raw, assignment)
    return [person.mask for person in copy.people]


def _embedding_targets(keypoints: np.ndarray) -> np.ndarray:
    """x, y, weight: labelled keypoints weigh 1; the others 0, placed at the labelled ones'
    mean so they do not stretch the person's box (its size normalises the distance)."""
    labelled = keypoints[:, 2] > 0
    targets = np.array(keypoints, dtype=np.float64)
    targets[~labelled, :2] = targets[labelled, :2].mean(axis=0)
    targets[:, 2] = labelled
    return targets
