"""Network outputs -> fused fields on the decoding grid.

Fields are fused at the network's output stride (one grid cell per output cell) and
then upsampled by an integer factor, align-corners bilinear, onto the *field grid*
(``FIELD_STRIDE`` input pixels per cell) — except the mid-range field, which the decoder
samples bilinearly on the output grid directly (bilinear sampling of a bilinear upsampling
is the same function), so it is only upsampled for display (``upsample``).

Each test-time variant (input scale, horizontal flip) runs the network on its own input;
its outputs are resampled bilinearly onto the base scale's output grid, flips
are undone (mirrored x, negated dx, left/right channels swapped), vectors are rescaled to
base input pixels, and the variants are averaged (probabilities, not logits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .jit import FIELDS, f32, kernel
from ..data.preprocess import InputTransform
from ..skeleton import FLIP_PERMUTATION, PART_FLIP_PERMUTATION, flipped_directed_edges

#: Decoding-grid resolution in network-input pixels (output stride 16 -> 4x upsampling).
FIELD_STRIDE = 4
_VECTOR_HEADS = ("short", "mid", "long")
_CHANNEL_FLIPS = {"heatmap": FLIP_PERMUTATION, "short": FLIP_PERMUTATION,
                  "long": FLIP_PERMUTATION, "mid": flipped_directed_edges(),
                  "segmentation": np.array([0]), "parts": PART_FLIP_PERMUTATION}
_PROBABILITY_HEADS = ("heatmap", "segmentation", "parts")


@dataclass
class Variant:
    """One network pass: its input transform, flip flag and raw outputs (1, C, h, w)."""

    transform: InputTransform
    flipped: bool
    outputs: dict[str, torch.Tensor]


def grid_shape(transform: InputTransform, stride: int) -> tuple[int, int]:
    """Grid (h, w) with one cell every ``stride`` input pixels (align corners)."""
    h, w = transform.input_hw
    return (h - 1) // stride + 1, (w - 1) // stride + 1


def _is_identity(variant: Variant, base: InputTransform) -> bool:
    return not variant.flipped and variant.transform == base


def _sampling_grid(base: InputTransform, variant: Variant, output_stride: int) -> torch.Tensor:
    """grid_sample coordinates of every base output-grid cell in the variant's output grid."""
    gh, gw = grid_shape(base, output_stride)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float64) * output_stride
    image_xy = base.to_image(np.stack([xs, ys], axis=-1))
    var_xy = variant.transform.to_input(image_xy)
    if variant.flipped:
        var_xy[..., 0] = variant.transform.flipped_x(var_xy[..., 0])
    oh, ow = (np.array(variant.transform.input_hw) - 1) // output_stride + 1
    size = np.array([max(ow - 1, 1), max(oh - 1, 1)], dtype=np.float64)
    norm = var_xy / output_stride / size * 2.0 - 1.0
    return torch.from_numpy(norm.astype(np.float32))[None]


def _to_base(name: str, maps: torch.Tensor, variant: Variant, base: InputTransform) -> torch.Tensor:
    """Undo flip (channel swap, dx sign) and rescale vectors to base input pixels."""
    if name in _PROBABILITY_HEADS:
        maps = torch.sigmoid(maps)
    if variant.flipped:
        perm = torch.from_numpy(_CHANNEL_FLIPS[name])
        if name in _VECTOR_HEADS:
            c, h, w = maps.shape[1] // 2, maps.shape[2], maps.shape[3]
            maps = maps.view(1, c, 2, h, w)[:, perm].clone()
            maps[:, :, 0] = -maps[:, :, 0]
            maps = maps.view(1, 2 * c, h, w)
        else:
            maps = maps[:, perm]
    if name in _VECTOR_HEADS and variant.transform != base:
        ratio = base.scale_xy / variant.transform.scale_xy
        c, h, w = maps.shape[1] // 2, maps.shape[2], maps.shape[3]
        factor = torch.tensor(ratio, dtype=maps.dtype).view(1, 1, 2, 1, 1)
        maps = (maps.view(1, c, 2, h, w) * factor).view(1, 2 * c, h, w)
    return maps


def fuse_variants(variants: list[Variant], base: InputTransform, heads: tuple[str, ...],
                  output_stride: int = 16, field_stride: int = FIELD_STRIDE) -> dict[str, np.ndarray]:
    """Average all variants on the base output grid, then upsample to the field grid.

    Returns probabilities ``heatmap`` (K, h, w), ``parts`` (24, h, w) and ``segmentation``
    (h, w), and vector
    fields (C, h, w, 2) for ``short``/``long`` on the field grid; ``mid`` (C, h16, w16, 2)
    stays on the output grid.
    """
    fused: dict[str, torch.Tensor] = {}
    for variant in variants:
        identity = _is_identity(variant, base)
        grid = None if identity else _sampling_grid(base, variant, output_stride)
        for name in heads:
            maps = _to_base(name, variant.outputs[name].float(), variant, base)
            if grid is not None:
                maps = F.grid_sample(maps, grid.to(maps.device), mode="bilinear",
                                     padding_mode="border", align_corners=True)
            fused[name] = maps if name not in fused else fused[name] + maps
    factor = output_stride // field_stride
    return {name: _to_numpy(name, maps[0] / len(variants), factor) for name, maps in fused.items()}


def _to_numpy(name: str, maps: torch.Tensor, factor: int) -> np.ndarray:
    """(C, h, w) probabilities -> (C, H, W) ((H, W) for segmentation); (2C, h, w) vectors
    -> (C, H, W, 2); upsampled by ``factor``."""
    arr = np.ascontiguousarray(maps.cpu().numpy(), dtype=np.float32)
    if name == "mid":
        c, h, w = arr.shape
        return np.ascontiguousarray(arr.reshape(c // 2, 2, h, w).transpose(0, 2, 3, 1))
    if name in _VECTOR_HEADS:
        return _interleaved(arr, factor)
    out = _upsample(arr, factor)
    return out[0] if name == "segmentation" else out


def _interleaved(arr: np.ndarray, factor: int) -> np.ndarray:
    """(2C, h, w) channel pairs -> upsampled (C, H, W, 2)."""
    out = _upsample(arr, factor)
    c2, h, w = out.shape
    return np.ascontiguousarray(out.reshape(c2 // 2, 2, h, w).transpose(0, 2, 3, 1))


def upsample(fields: np.ndarray, factor: int) -> np.ndarray:
    """Align-corners bilinear upsampling by an integer factor.

    Scalar maps (C, h, w) -> (C, H, W); vector fields (C, h, w, 2) -> (C, H, W, 2).
    """
    if fields.ndim == 4:
        c, h, w, _ = fields.shape
        return _interleaved(np.ascontiguousarray(fields.transpose(0, 3, 1, 2)).reshape(2 * c, h, w), factor)
    return _upsample(fields, factor)


def _taps(n: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Left source index and right-hand weight of each of the (n - 1) * factor + 1 outputs."""
    pos = np.arange((n - 1) * factor + 1) / factor
    left = np.minimum(pos.astype(np.int64), max(n - 2, 0))
    return left, (pos - left).astype(np.float32)


def _upsample(src: np.ndarray, factor: int) -> np.ndarray:
    """(C, h, w) -> (C, H, W)."""
    c, h, w = src.shape
    rows, fy = _taps(h, factor)
    cols, fx = _taps(w, factor)
    out = np.empty((c, len(rows), len(cols)), dtype=np.float32)
    _upsample_kernel(f32(src), rows, fy, cols, fx, out)
    return out


@kernel("float32[:, :, ::1], int64[::1], float32[::1], int64[::1], float32[::1], float32[:, :, ::1]",
        FIELDS, fastmath=True)
def _upsample_kernel(src, rows, fy, cols, fx, out):
    """out[c, i, j]: ``src[c]`` bilinearly at rows[i] + fy[i], cols[j] + fx[j]."""
    c, h, w = src.shape
    big_h, big_w = rows.shape[0], cols.shape[0]
    for ch in range(c):
        plane = src[ch]
        for i in range(big_h):
            top, bottom, a = plane[rows[i]], plane[min(rows[i] + 1, h - 1)], fy[i]
            for j in range(big_w):
                j0 = cols[j]
                j1 = min(j0 + 1, w - 1)
                b = fx[j]
                upper = top[j0] + (top[j1] - top[j0]) * b
                lower = bottom[j0] + (bottom[j1] - bottom[j0]) * b
                out[ch, i, j] = upper + (lower - upper) * a
