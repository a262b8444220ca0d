"""Running a network on several inputs at once: float32 (TF32 off on CUDA, so it stays the
reference), onnx (the same float32 in ONNX Runtime on the CPU, ``onnx_backend``), fp16 (CUDA,
a half copy of the network, channels-last) or int8 (CPU, ``quantize``); padded batches give
the one-at-a-time outputs (to float rounding: kernel libraries may pick other algorithms
for another batch size).

Inputs of different sizes (each ``output_stride * n + 1`` a side) are zero-padded at the
right and bottom to a common size. After every backbone convolution the activations
outside each image's own extent are zeroed, which is what the TF-'SAME' zero padding of
that image alone gives (odd sides pad symmetrically), so no padding leaks into the
results. The int8 and ONNX graphs cannot be hooked: they batch only inputs of equal size.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .layers import Conv2dSame

BACKENDS = ("float", "onnx", "fp16", "int8", "auto")
#: What each backend is, for the command line's help and the app's tool tip.
BACKEND_HELP = ("network arithmetic: float (float32, PyTorch), onnx (the same float32 in ONNX Runtime: "
                "CPU, several times faster; exported once and cached), fp16 (CUDA), int8 (CPU, "
                "calibrated once and cached; keypoint AP -0.01) or auto (int8 on a CPU that has the "
                "kernels, fp16 on CUDA)")
#: Arithmetic of the half-precision backends (CUDA only). bf16 was measured and is not
#: offered: keypoint AP -0.009 on coco_dev/train where fp16 loses 0.0006.
HALF_DTYPES = {"fp16": torch.float16}


class NetworkRunner:
    """A network on a device; ``run(inputs)`` -> one output dict (1, C, h, w) per input."""

    def __init__(self, net: nn.Module, device: torch.device, maskable: bool = True,
                 dtype: torch.dtype = torch.float32) -> None:
        if dtype != torch.float32:
            net = copy.deepcopy(net).to(dtype)
        self.net, self.device, self.maskable, self.dtype = net, device, maskable, dtype
        self.stride = int(net.output_stride)

    @torch.inference_mode()
    def run(self, inputs: Sequence[np.ndarray]) -> list[dict[str, torch.Tensor]]:
        """Network outputs of each (3, H, W) float32 input; same-size groups or (for
        maskable float networks) one padded batch."""
        if not self.maskable:
            return self._by_size(inputs)
        hw = np.array([x.shape[1:] for x in inputs])
        out = self._call(_pad_stack(inputs, hw.max(axis=0)), hw if len(set(map(tuple, hw))) > 1 else None)
        return [{k: _crop(v[i:i + 1], hw[i], self.stride) for k, v in out.items()} for i in range(len(inputs))]

    def _by_size(self, inputs: Sequence[np.ndarray]) -> list[dict[str, torch.Tensor]]:
        results: list[dict[str, torch.Tensor] | None] = [None] * len(inputs)
        for shape in dict.fromkeys(x.shape for x in inputs):
            index = [i for i, x in enumerate(inputs) if x.shape == shape]
            out = self._call(torch.from_numpy(np.stack([inputs[i] for i in index])), None)
            for j, i in enumerate(index):
                results[i] = {k: v[j:j + 1] for k, v in out.items()}
        return results

    def _call(self, x: torch.Tensor, extents: np.ndarray | None) -> dict[str, torch.Tensor]:
        x = x.to(self.device, self.dtype)
        if self.device.type == "cuda":
            x = x.to(memory_format=torch.channels_last)
        with _masked(self.net, extents), _no_tf32(self.device.type == "cuda" and self.dtype == torch.float32):
            return {k: v.float() for k, v in self.net(x).items()}


@contextmanager
def _no_tf32(active: bool) -> Iterator[None]:
    """float32 convolutions and matrix products in full float32 (CUDA uses TF32, with
    fp16's mantissa, by default); no-op for other dtypes, which never use TF32."""
    if not active:
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _pad_stack(inputs: Sequence[np.ndarray], hw: np.ndarray) -> torch.Tensor:
    batch = np.zeros((len(inputs), 3, int(hw[0]), int(hw[1])), dtype=np.float32)
    for i, x in enumerate(inputs):
        batch[i, :, :x.shape[1], :x.shape[2]] = x
    return torch.from_numpy(batch)


def _extent(side: int, step: int) -> int:
    """Cells of an output grid with ``step`` input pixels per cell over ``side`` pixels."""
    return (side - 1) // step + 1


def _crop(out: torch.Tensor, hw: np.ndarray, stride: int) -> torch.Tensor:
    return out[..., :_extent(int(hw[0]), stride), :_extent(int(hw[1]), stride)]


@contextmanager
def _masked(net: nn.Module, extents: np.ndarray | None) -> Iterator[None]:
    """Zero every backbone convolution's output outside each image's extent (``extents``:
    (N, 2) input heights and widths; the batch is their maximum); nothing when None."""
    if extents is None:
        yield
        return
    batch_hw = extents.max(axis=0)
    masks: dict[tuple[int, ...], torch.Tensor] = {}

    def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        key = tuple(out.shape[-2:])
        if key not in masks:
            masks[key] = _mask(extents, batch_hw, key, out)
        return out * masks[key]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, Conv2dSame)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _mask(extents: np.ndarray, batch_hw: np.ndarray, grid_hw: tuple[int, ...],
          like: torch.Tensor) -> torch.Tensor:
    """(N, 1, h, w) ones over each image's cells of a ``grid_hw`` output grid."""
    steps = [max((int(b) - 1) // max(g - 1, 1), 1) for b, g in zip(batch_hw, grid_hw)]
    mask = torch.zeros(len(extents), 1, *grid_hw, dtype=like.dtype, device=like.device)
    for i, (h, w) in enumerate(extents):
        mask[i, :, :_extent(int(h), steps[0]), :_extent(int(w), steps[1])] = 1
    return mask
