"""Keypoints, kinematic tree, COCO constants and THE tensor layout used everywhere.

Tensor layout (one place, used by the network, decoders, targets, losses and viewer):

* Network outputs are NCHW at output stride ``s``; output cell (i, j) sits exactly on
  network-input pixel (x, y) = (s * j, s * i) (inputs are padded to s*n + 1, so the grid
  is "align corners").
* Heatmap: ``K`` logit channels, keypoint order ``KEYPOINT_NAMES`` (COCO order).
* Vector fields are stored as pairs of channels, **x first**: channel ``2c`` is dx and
  ``2c + 1`` is dy of vector ``c``, in network-input pixels.
  - short-range: ``2K`` channels, vector c = keypoint c;
  - mid-range: ``2 * N_DIRECTED_EDGES`` channels, vector c = directed edge
    ``DIRECTED_EDGES[c]``: c < 16 are the tree edges parent -> child (``TREE_EDGES``),
    c >= 16 the same edges child -> parent;
  - long-range: ``2K`` channels, vector c = keypoint c.
* Body parts (an optional head, ``EXTRA_HEADS``): ``N_PARTS`` logit channels, order
  ``PART_NAMES``.
* Decoded numpy fields (in ``InferenceResult``) are arrays ``(C, h, w, 2)`` with the
  last axis (dx, dy); keypoints are ``(K, 3)`` rows of (x, y, score).
* PoseNet's and BodyPix's own layouts ([all dy, then all dx]; BodyPix's own mid-range edge
  order) only appear in ``model_zoo/convert_posenet.py`` and ``model_zoo/convert_bodypix.py``.
"""

from __future__ import annotations

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
K = len(KEYPOINT_NAMES)

#: COCO per-keypoint OKS sigmas; kappa (PersonLab's falloff) is 2 * sigma, as in COCOeval.
COCO_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72,
     0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89], dtype=np.float32) / 10.0
KAPPAS = 2.0 * COCO_SIGMAS

#: Left/right swap used by horizontal flips.
FLIP_PERMUTATION = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])

_NAME_TO_INDEX = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
_TREE_BY_NAME = (
    ("nose", "left_eye"), ("left_eye", "left_ear"), ("nose", "right_eye"),
    ("right_eye", "right_ear"), ("nose", "left_shoulder"), ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"), ("left_shoulder", "left_hip"), ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"), ("nose", "right_shoulder"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("right_shoulder", "right_hip"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
#: The 16 kinematic-tree edges (parent, child), root = nose: PoseNet's tree.
TREE_EDGES = np.array([(_NAME_TO_INDEX[a], _NAME_TO_INDEX[b]) for a, b in _TREE_BY_NAME],
                      dtype=np.int64)
N_EDGES = len(TREE_EDGES)
#: 32 directed edges (from, to): forward tree edges, then the same edges backwards.
DIRECTED_EDGES = np.concatenate([TREE_EDGES, TREE_EDGES[:, ::-1]], axis=0)
N_DIRECTED_EDGES = len(DIRECTED_EDGES)

#: COCO's 19-link drawing skeleton, 0-based (the category record stores it 1-based).
COCO_SKELETON_1BASED = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
COCO_SKELETON = np.array(COCO_SKELETON_1BASED, dtype=np.int64) - 1

# Head channel counts.
HEATMAP_CHANNELS = K
SHORT_CHANNELS = 2 * K
MID_CHANNELS = 2 * N_DIRECTED_EDGES
SEGMENTATION_CHANNELS = 1
LONG_CHANNELS = 2 * K
HEAD_CHANNELS = {
    "heatmap": HEATMAP_CHANNELS, "short": SHORT_CHANNELS, "mid": MID_CHANNELS,
    "segmentation": SEGMENTATION_CHANNELS, "long": LONG_CHANNELS,
}
POSE_HEADS = ("heatmap", "short", "mid")
ALL_HEADS = tuple(HEAD_CHANNELS)

#: BodyPix's 24 body parts (the person's own left/right), in the ``parts`` head's channel order.
PART_NAMES: tuple[str, ...] = (
    "left_face", "right_face", "left_upper_arm_front", "left_upper_arm_back",
    "right_upper_arm_front", "right_upper_arm_back", "left_lower_arm_front",
    "left_lower_arm_back", "right_lower_arm_front", "right_lower_arm_back", "left_hand",
    "right_hand", "torso_front", "torso_back", "left_upper_leg_front", "left_upper_leg_back",
    "right_upper_leg_front", "right_upper_leg_back", "left_lower_leg_front",
    "left_lower_leg_back", "right_lower_leg_front", "right_lower_leg_back", "left_feet",
    "right_feet",
)
N_PARTS = len(PART_NAMES)
#: Optional heads beyond PersonLab's five (a network has them only when built with them):
#: ``parts``, one logit channel per body part (``PART_NAMES``).
EXTRA_HEAD_CHANNELS = {"parts": N_PARTS}
EXTRA_HEADS = tuple(EXTRA_HEAD_CHANNELS)
#: Every head a network may have, in checkpoint order.
MODEL_HEADS = ALL_HEADS + EXTRA_HEADS


def _mirror_name(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


#: Left/right swap of the body parts, used by horizontal flips.
PART_FLIP_PERMUTATION = np.array([PART_NAMES.index(_mirror_name(n)) for n in PART_NAMES])

# PersonLab constants, in network-input pixels.
DISK_RADIUS = 32.0        # R: keypoint disk radius
NMS_RADIUS = 10.0         # r: part-based NMS radius
MASK_THRESHOLD = 0.25     # t: embedding distance threshold for mask assignment
SEGMENTATION_THRESHOLD = 0.5


def flipped_directed_edges() -> np.ndarray:
    """Index map c -> c' so that directed edge c of a flipped image is edge c' of the original."""
    lookup = {tuple(e): i for i, e in enumerate(DIRECTED_EDGES.tolist())}
    return np.array([lookup[(int(FLIP_PERMUTATION[a]), int(FLIP_PERMUTATION[b]))]
                     for a, b in DIRECTED_EDGES], dtype=np.int64)


def coco_person_category() -> dict:
    """The COCO person category record, with keypoint names and the 1-based skeleton."""
    return {"supercategory": "person", "id": 1, "name": "person",
            "keypoints": list(KEYPOINT_NAMES),
            "skeleton": [list(pair) for pair in COCO_SKELETON_1BASED]}
