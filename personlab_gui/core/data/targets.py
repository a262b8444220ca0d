"""Training targets for the five PersonLab heads, on the network output grid.

Everything here is in network-input pixels; grid cell (i, j) is input pixel
(stride * j, stride * i) (layout: ``skeleton`` module docstring). ``annotations_to_input``
turns one image's COCO annotations into input-frame arrays; ``build_targets`` turns those
into the dense targets, weights and ignore masks the losses read.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from .coco_write import annotation_mask
from .preprocess import InputTransform
from ..skeleton import DIRECTED_EDGES, DISK_RADIUS, K


class InputAnnotations(NamedTuple):
    """One image's people in the network-input frame."""

    keypoints: np.ndarray     # (N, K, 3) float32: x, y, v (v = 0: not labelled)
    masks: np.ndarray         # (N, Hin, Win) bool: masks of the people with keypoints
    crowd: np.ndarray         # (Hin, Win) bool: crowd regions
    unannotated: np.ndarray   # (M, Hin, Win) bool: people with a mask but no keypoints


def annotations_to_input(anns: list[dict], transform: InputTransform,
                         image_hw: tuple[int, int]) -> InputAnnotations:
    """COCO person annotations of one image (image pixels) -> arrays in the input frame.

    Crowd annotations form the crowd mask; people without labelled keypoints become
    unannotated masks; the others keep their keypoints (``transform.to_input``) and masks.
    Masks are resized with area averaging, thresholded at 0.5, and padded right/bottom.
    """
    h, w = image_hw
    crowd = [a for a in anns if a.get("iscrowd", 0)]
    people = [a for a in anns if not a.get("iscrowd", 0)]
    labelled = [a for a in people if _has_keypoints(a)]
    unlabelled = [a for a in people if not _has_keypoints(a)]
    keypoints = np.zeros((len(labelled), K, 3), dtype=np.float32)
    for row, ann in zip(keypoints, labelled):
        raw = np.asarray(ann["keypoints"], dtype=np.float64).reshape(K, 3)
        row[:, :2] = np.where(raw[:, 2:] > 0, transform.to_input(raw[:, :2]), 0.0)
        row[:, 2] = raw[:, 2]

    def masks_of(group: list[dict]) -> np.ndarray:
        return _masks_to_input([annotation_mask(a, h, w) for a in group], transform)

    return InputAnnotations(keypoints, masks_of(labelled), masks_of(crowd).any(axis=0),
                            masks_of(unlabelled))


def _has_keypoints(ann: dict) -> bool:
    return any(v > 0 for v in ann.get("keypoints", [])[2::3])


def _masks_to_input(masks: list[np.ndarray], transform: InputTransform) -> np.ndarray:
    """Image-resolution bool masks -> (N, Hin, Win) bool in the padded input frame."""
    rh, rw = transform.resized_hw
    out = np.zeros((len(masks), *transform.input_hw), dtype=bool)
    for dst, mask in zip(out, masks):
        resized = cv2.resize(mask.astype(np.float32), (rw, rh), interpolation=cv2.INTER_AREA)
        dst[:rh, :rw] = resized >= 0.5
    return out


def grid_shape(input_hw: tuple[int, int], stride: int = 16) -> tuple[int, int]:
    """Output grid (h, w) of an input of size ``input_hw``."""
    return (input_hw[0] - 1) // stride + 1, (input_hw[1] - 1) // stride + 1


def build_targets(keypoints: np.ndarray, masks: np.ndarray, crowd_mask: np.ndarray,
                  input_hw: tuple[int, int], stride: int = 16, *,
                  unannotated_masks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Dense float32 targets on the output grid (see the module docstring).

    keypoints (N, K, 3) input px (v > 0: labelled); masks (N, Hin, Win) for the same people;
    crowd_mask (Hin, Win); unannotated_masks (M, Hin, Win): people with a mask only.
    Returns heatmap (K, h, w), short (2K, h, w) + short_weight (K, h, w), mid (64, h, w)
    + mid_weight (32, h, w), segmentation (h, w), long (2K, h, w) + long_weight (K, h, w),
    keypoint_ignore (h, w) (crowd or unannotated people) and segmentation_ignore (crowd).
    """
    h, w = grid_shape(input_hw, stride)
    keypoints = np.asarray(keypoints, dtype=np.float32).reshape(-1, K, 3)
    grid_xy = np.stack(np.meshgrid(np.arange(w, dtype=np.float32) * stride,
                                   np.arange(h, dtype=np.float32) * stride), axis=-1)
    person_cells = _sample(masks, stride, h, w)
    unannotated_cells = _sample(unannotated_masks, stride, h, w).any(axis=0)
    crowd_cells = _sample(crowd_mask[None], stride, h, w)[0]
    targets = {**_disk_targets(keypoints, grid_xy), **_long_targets(keypoints, person_cells, grid_xy)}
    targets["segmentation"] = (person_cells.any(axis=0) | unannotated_cells).astype(np.float32)
    targets["keypoint_ignore"] = (crowd_cells | unannotated_cells).astype(np.float32)
    targets["segmentation_ignore"] = crowd_cells.astype(np.float32)
    return targets


def _sample(masks: np.ndarray | None, stride: int, h: int, w: int) -> np.ndarray:
    """(N, Hin, Win) masks read at the grid pixels -> (N, h, w) bool."""
    if masks is None or len(masks) == 0:
        return np.zeros((0, h, w), dtype=bool)
    return np.asarray(masks, dtype=bool)[:, ::stride, ::stride][:, :h, :w]


def _to_channels(vectors: np.ndarray) -> np.ndarray:
    """(C, h, w, 2) -> (2C, h, w), x first."""
    c, h, w, _ = vectors.shape
    return np.ascontiguousarray(vectors.transpose(0, 3, 1, 2)).reshape(2 * c, h, w)


def _disk_targets(keypoints: np.ndarray, grid_xy: np.ndarray) -> dict[str, np.ndarray]:
    """Heatmap, short- and mid-range targets: disks of radius R around labelled keypoints."""
    labelled = keypoints[:, :, 2] > 0                                       # (N, K)
    offsets = keypoints[:, :, None, None, :2] - grid_xy                     # (N, K, h, w, 2)
    dist2 = np.where(labelled[:, :, None, None], (offsets ** 2).sum(-1), np.inf)
    short, in_disk = _nearest(offsets, dist2)
    src, dst = DIRECTED_EDGES[:, 0], DIRECTED_EDGES[:, 1]
    edge_ok = (labelled[:, src] & labelled[:, dst])[:, :, None, None]       # (N, E, 1, 1)
    mid, in_edge_disk = _nearest(offsets[:, dst], np.where(edge_ok, dist2[:, src], np.inf))
    return {"heatmap": in_disk.astype(np.float32), "short": _to_channels(short),
            "short_weight": in_disk.astype(np.float32),
            "mid": _to_channels(mid), "mid_weight": in_edge_disk.astype(np.float32)}


def _nearest(vectors: np.ndarray, dist2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel and cell, the vector of the person whose disk centre is nearest.

    vectors (N, C, h, w, 2), dist2 (N, C, h, w) -> (C, h, w, 2) zeroed outside the disks,
    and the (C, h, w) bool disk mask.
    """
    n, c, h, w = dist2.shape
    if n == 0:
        return np.zeros((c, h, w, 2), dtype=np.float32), np.zeros((c, h, w), dtype=bool)
    owner = dist2.argmin(axis=0)
    inside = np.take_along_axis(dist2, owner[None], axis=0)[0] <= DISK_RADIUS ** 2
    chosen = np.take_along_axis(vectors, owner[None, ..., None], axis=0)[0]
    return np.where(inside[..., None], chosen, 0.0).astype(np.float32), inside


def _long_targets(keypoints: np.ndarray, person_cells: np.ndarray,
                  grid_xy: np.ndarray) -> dict[str, np.ndarray]:
    """Long-range offsets y_{j,k} - x on the cells of exactly one annotated person's mask.

    Cells where annotated masks overlap are ambiguous and get no long-range target.
    """
    h, w = grid_xy.shape[:2]
    if len(keypoints) == 0:
        return {"long": np.zeros((2 * K, h, w), dtype=np.float32),
                "long_weight": np.zeros((K, h, w), dtype=np.float32)}
    owner = person_cells.argmax(axis=0)                                     # (h, w)
    sole = person_cells.sum(axis=0) == 1
    target_xy = keypoints[owner].transpose(2, 0, 1, 3)                      # (K, h, w, 3)
    weight = sole & (target_xy[..., 2] > 0)
    vectors = np.where(weight[..., None], target_xy[..., :2] - grid_xy, 0.0)
    return {"long": _to_channels(vectors.astype(np.float32)),
            "long_weight": weight.astype(np.float32)}
