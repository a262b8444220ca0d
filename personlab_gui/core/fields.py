"""Network outputs -> fused fields on the decoding grid.

Each test-time variant (input scale, horizontal flip) runs the network on its own input;
its outputs are resampled bilinearly onto ONE grid, the *field grid* of the base scale
(``field_stride`` network-input pixels per cell, align-corners with the output grid), flips
are undone (mirrored x, negated dx, left/right channels swapped), vectors are rescaled to
base input pixels, and the variants are averaged (probabilities, not logits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .preprocess import InputTransform
from .skeleton import FLIP_PERMUTATION, flipped_directed_edges

#: Decoding-grid resolution in network-input pixels (output stride 16 -> 4x upsampling).
FIELD_STRIDE = 4
_VECTOR_HEADS = ("short", "mid", "long")
_CHANNEL_FLIPS = {"heatmap": FLIP_PERMUTATION, "short": FLIP_PERMUTATION,
                  "long": FLIP_PERMUTATION, "mid": flipped_directed_edges(),
                  "segmentation": np.array([0])}


@dataclass
class Variant:
    """One network pass: its input transform, flip flag and raw outputs (1, C, h, w)."""

    transform: InputTransform
    flipped: bool
    outputs: dict[str, torch.Tensor]


def grid_shape(transform: InputTransform, field_stride: int) -> tuple[int, int]:
    h, w = transform.input_hw
    return (h - 1) // field_stride + 1, (w - 1) // field_stride + 1


def _sampling_grid(base: InputTransform, variant: Variant, field_stride: int,
                   output_stride: int) -> torch.Tensor:
    """grid_sample coordinates of every base field-grid cell in the variant's output grid."""
    gh, gw = grid_shape(base, field_stride)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float64) * field_stride
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
    if name in ("heatmap", "segmentation"):
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
    if name in _VECTOR_HEADS:
        ratio = base.scale_xy / variant.transform.scale_xy
        c, h, w = maps.shape[1] // 2, maps.shape[2], maps.shape[3]
        factor = torch.tensor(ratio, dtype=maps.dtype).view(1, 1, 2, 1, 1)
        maps = (maps.view(1, c, 2, h, w) * factor).view(1, 2 * c, h, w)
    return maps


def fuse_variants(variants: list[Variant], base: InputTransform, heads: tuple[str, ...],
                  output_stride: int = 16, field_stride: int = FIELD_STRIDE) -> dict[str, np.ndarray]:
    """Average all variants on the base field grid.

    Returns probabilities ``heatmap`` (K, h, w) and ``segmentation`` (h, w), and vector
    fields (C, h, w, 2) for ``short``/``mid``/``long``, for the heads in ``heads``.
    """
    fused: dict[str, torch.Tensor] = {}
    for variant in variants:
        grid = _sampling_grid(base, variant, field_stride, output_stride)
        for name in heads:
            raw = variant.outputs[name].float()
            maps = F.grid_sample(_to_base(name, raw, variant, base), grid.to(raw.device),
                                 mode="bilinear", padding_mode="border", align_corners=True)
            fused[name] = maps if name not in fused else fused[name] + maps
    return {name: _to_numpy(name, maps / len(variants)) for name, maps in fused.items()}


def _to_numpy(name: str, maps: torch.Tensor) -> np.ndarray:
    maps = maps[0].cpu()
    if name == "segmentation":
        return maps[0].numpy()
    if name in _VECTOR_HEADS:
        c, h, w = maps.shape[0] // 2, maps.shape[1], maps.shape[2]
        return maps.view(c, 2, h, w).permute(0, 2, 3, 1).contiguous().numpy()
    return maps.contiguous().numpy()
