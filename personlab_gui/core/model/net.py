"""PersonLabNet: a backbone plus five 1x1 heads, outputs in the project's tensor layout."""

from __future__ import annotations

import torch
from torch import nn

from ..skeleton import HEAD_CHANNELS
from .backbones import build_backbone

#: Initial bias of the probability heads (sigmoid(-2) ~ 0.12): a calm, untrained prior.
PRIOR_LOGIT = -2.0
_INIT_STD = 0.01
_PROBABILITY_HEADS = ("heatmap", "segmentation")


class PersonLabNet(nn.Module):
    """PersonLab network: ``forward`` returns the heads ``skeleton.HEAD_CHANNELS`` names.

    Heatmap and segmentation are logits; short, mid and long are offsets in network-input
    pixels, channel pairs (dx, dy) as described in ``skeleton``.
    """

    def __init__(self, backbone: str = "mobilenet_v1_075") -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone = build_backbone(backbone)
        self.output_stride: int = self.backbone.output_stride
        self.heads = nn.ModuleDict({
            name: nn.Conv2d(self.backbone.out_channels, channels, 1)
            for name, channels in HEAD_CHANNELS.items()
        })
        self._init_heads()

    def _init_heads(self) -> None:
        for name, head in self.heads.items():
            nn.init.normal_(head.weight, std=_INIT_STD)
            nn.init.constant_(head.bias, PRIOR_LOGIT if name in _PROBABILITY_HEADS else 0.0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) in [-1, 1] -> {head name: (N, C, h, w)} at ``output_stride``."""
        features = self.backbone(x)
        return {name: head(features) for name, head in self.heads.items()}
