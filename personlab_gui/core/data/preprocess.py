"""Network input preparation: resize to the chosen long side, pad to s*n + 1, and the exact
coordinate map between original image pixels and network-input pixels.

Convention: pixel centres. A resize by per-axis factors (sx, sy) maps image pixel x to
input pixel (x + 0.5) * sx - 0.5 (what ``cv2.resize`` does); padding is added at the right
and bottom only, so it never shifts coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class InputTransform:
    """Maps between original image pixels and network-input pixels."""

    image_hw: tuple[int, int]     # original (H, W)
    resized_hw: tuple[int, int]   # content size inside the input, before padding
    input_hw: tuple[int, int]     # padded network input (H, W), each s*n + 1

    @property
    def scale_xy(self) -> np.ndarray:
        (h, w), (rh, rw) = self.image_hw, self.resized_hw
        return np.array([rw / w, rh / h], dtype=np.float64)

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> network-input pixels."""
        return (np.asarray(xy, dtype=np.float64) + 0.5) * self.scale_xy - 0.5

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Network-input pixels (..., 2) -> image pixels."""
        return (np.asarray(xy, dtype=np.float64) + 0.5) / self.scale_xy - 0.5

    def flipped_x(self, x: np.ndarray) -> np.ndarray:
        """Mirror an input-pixel x coordinate about the content (not the padding)."""
        return self.resized_hw[1] - 1 - np.asarray(x)


def padded_size(n: int, stride: int) -> int:
    """Smallest stride*m + 1 >= n."""
    return stride * max(1, -(-(n - 1) // stride)) + 1


def make_transform(image_hw: tuple[int, int], long_side: int, stride: int = 16) -> InputTransform:
    """The transform for resizing an image so its long side is ``long_side`` pixels."""
    h, w = image_hw
    scale = long_side / max(h, w)
    rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
    return InputTransform((h, w), (rh, rw), (padded_size(rh, stride), padded_size(rw, stride)))


def prepare_input(image: np.ndarray, long_side: int, stride: int = 16,
                  flip: bool = False) -> tuple[np.ndarray, InputTransform]:
    """RGB uint8 (H, W, 3) -> float32 (3, Hp, Wp) scaled to [-1, 1], zero-padded (value 0).

    With ``flip`` the resized content is mirrored horizontally (padding stays right).
    """
    t = make_transform(image.shape[:2], long_side, stride)
    rh, rw = t.resized_hw
    interp = cv2.INTER_AREA if rh < image.shape[0] else cv2.INTER_LINEAR
    resized = cv2.resize(image, (rw, rh), interpolation=interp)
    if flip:
        resized = resized[:, ::-1]
    out = np.zeros((3, *t.input_hw), dtype=np.float32)
    out[:, :rh, :rw] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
    return out, t
