"""What of a drawing lies on the image: points inside it, and arrows cut at its border.
The model's fields cover the padded network input, so arrows and keypoints can fall
outside the photo; nothing is drawn there."""

from __future__ import annotations

import numpy as np


def image_bounds(image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) x, y corners of the image area (pixel centres on integers)."""
    h, w = image_hw
    return np.array([-0.5, -0.5]), np.array([w - 0.5, h - 0.5])


def inside_image(xy: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(n,) whether each (n, 2) point lies on the image."""
    low, high = image_bounds(image_hw)
    return np.all((xy >= low) & (xy <= high), axis=1)


def on_image(keypoints: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(K, 3) x, y, score with the score of keypoints off the image set to 0 (not drawn)."""
    return np.where(inside_image(keypoints[:, :2], image_hw)[:, None], keypoints, keypoints * [1, 1, 0])


def clip_arrows(origins: np.ndarray, tips: np.ndarray, image_hw: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The arrows that start on the image, each tip pulled back along its shaft to the border."""
    keep = inside_image(origins, image_hw)
    origins, tips = origins[keep], tips[keep]
    low, high = image_bounds(image_hw)
    shaft = tips - origins
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(shaft > 0, (high - origins) / shaft, np.where(shaft < 0, (low - origins) / shaft, np.inf))
    return origins, origins + shaft * np.clip(reach.min(axis=1, initial=np.inf), 0.0, 1.0)[:, None]
