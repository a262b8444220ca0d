"""PersonLabNet: a backbone plus five 1x1 heads (and optional extra ones), outputs in the
project's tensor layout."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..skeleton import EXTRA_HEAD_CHANNELS, HEAD_CHANNELS
from .backbones import build_backbone

#: Initial bias of the probability heads (sigmoid(-2) ~ 0.12): a calm, untrained prior.
PRIOR_LOGIT = -2.0
_INIT_STD = 0.01
_PROBABILITY_HEADS = ("heatmap", "segmentation", "parts")


class PersonLabNet(nn.Module):
    """PersonLab network: ``forward`` returns the heads ``skeleton.HEAD_CHANNELS`` names,
    plus the ``extra_heads`` (names of ``skeleton.EXTRA_HEAD_CHANNELS``) it was built with.

    Heatmap, segmentation and parts are logits; short, mid and long are offsets in
    network-input pixels, channel pairs (dx, dy) as described in ``skeleton``.
    """

    def __init__(self, backbone: str = "mobilenet_v1_075", extra_heads: Iterable[str] = ()) -> None:
        super().__init__()
        extra_heads = set(extra_heads)
        if not extra_heads <= set(EXTRA_HEAD_CHANNELS):
            raise ValueError(f"unknown extra heads: {sorted(extra_heads - set(EXTRA_HEAD_CHANNELS))}")
        extra_heads = tuple(h for h in EXTRA_HEAD_CHANNELS if h in extra_heads)
        self.backbone_name = backbone
        self.extra_heads = extra_heads
        self.backbone = build_backbone(backbone)
        self.output_stride: int = self.backbone.output_stride
        channels = {**HEAD_CHANNELS, **{h: EXTRA_HEAD_CHANNELS[h] for h in extra_heads}}
        self.heads = nn.ModuleDict({
            name: nn.Conv2d(self.backbone.out_channels, n, 1) for name, n in channels.items()
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
