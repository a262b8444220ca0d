"""MobileNetV1 (depth 0.75, output stride 16), layer for layer PoseNet's multi-person graph.

Batch norm is folded into the biases, so each layer is a TF-'SAME' convolution with bias
followed by ReLU6: a 3x3 stride-2 stem, then 13 depthwise-separable blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import register_backbone
from .layers import Conv2dSame

#: (output channels, depthwise stride) of the 13 depthwise-separable blocks.
_BLOCKS_075 = ((48, 1), (96, 2), (96, 1), (192, 2), (192, 1), (384, 2),
               (384, 1), (384, 1), (384, 1), (384, 1), (384, 1), (384, 1), (384, 1))
_STEM_CHANNELS_075 = 24


class SeparableBlock(nn.Module):
    """Depthwise 3x3 conv + ReLU6, then pointwise 1x1 conv + ReLU6."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = Conv2dSame(in_channels, in_channels, 3, stride=stride, groups=in_channels)
        self.pointwise = Conv2dSame(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.pointwise(F.relu6(self.depthwise(x))))


class MobileNetV1(nn.Module):
    """MobileNetV1 feature extractor with folded batch norm."""

    def __init__(self, stem_channels: int, blocks: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.conv0 = Conv2dSame(3, stem_channels, 3, stride=2)
        layers, channels, stride = [], stem_channels, 2
        for out_channels, block_stride in blocks:
            layers.append(SeparableBlock(channels, out_channels, block_stride))
            channels, stride = out_channels, stride * block_stride
        self.blocks = nn.Sequential(*layers)
        self.out_channels = channels
        self.output_stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(F.relu6(self.conv0(x)))


@register_backbone("mobilenet_v1_075")
def mobilenet_v1_075() -> MobileNetV1:
    """PoseNet's MobileNetV1 0.75: 384 output channels at output stride 16."""
    return MobileNetV1(_STEM_CHANNELS_075, _BLOCKS_075)
