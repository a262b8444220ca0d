"""The PersonLab training loss: logistic losses for the heatmap and segmentation heads, L1
for the short-, mid- and long-range offsets where their targets are defined, with crowd
regions and unannotated people masked out (targets from ``targets.build_targets``); and
the distillation loss against a teacher's outputs (``distill_loss``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F

from ..skeleton import DISK_RADIUS


@dataclass(frozen=True)
class LossWeights:
    """Per-head loss weights; a head with weight 0 is not trained.

    Defaults: heatmap 4, segmentation 2, short 1, mid 0.25, long 0.125, the weights of
    the public reference reimplementation of PersonLab (octiron/PersonLab, ``config.py``);
    the paper's own text (Papandreou et al., ECCV 2018) is the authority where they differ.
    """

    heatmap: float = 4.0
    segmentation: float = 2.0
    short: float = 1.0
    mid: float = 0.25
    long: float = 0.125

    def only(self, heads: tuple[str, ...] | list[str]) -> LossWeights:
        """These weights with every head not in ``heads`` set to 0."""
        unknown = set(heads) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown heads: {', '.join(sorted(unknown))}")
        return replace(self, **{f.name: 0.0 for f in fields(self) if f.name not in heads})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def personlab_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                   weights: LossWeights) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted total loss and the (detached, unweighted) loss of every trained head.

    outputs: the network's NCHW heads; targets: ``build_targets`` arrays with a batch axis.
    """
    keep_keypoints = 1.0 - targets["keypoint_ignore"].unsqueeze(1)         # (B, 1, h, w)
    keep_segmentation = 1.0 - targets["segmentation_ignore"].unsqueeze(1)
    terms = {
        "heatmap": lambda: _logistic(outputs["heatmap"], targets["heatmap"], keep_keypoints),
        "segmentation": lambda: _logistic(outputs["segmentation"],
                                          targets["segmentation"].unsqueeze(1), keep_segmentation),
        "short": lambda: _offset_l1(outputs["short"], targets["short"],
                                    targets["short_weight"] * keep_keypoints),
        "mid": lambda: _offset_l1(outputs["mid"], targets["mid"],
                                  targets["mid_weight"] * keep_keypoints),
        "long": lambda: _offset_l1(outputs["long"], targets["long"],
                                   targets["long_weight"] * keep_keypoints),
    }
    per_head = {name: term() for name, term in terms.items() if getattr(weights, name) > 0}
    if not per_head:
        raise ValueError("every loss weight is 0: no head to train")
    total = sum(getattr(weights, name) * loss for name, loss in per_head.items())
    return total, {name: loss.detach() for name, loss in per_head.items()}


#: Weight of the ``parts`` head in the distillation loss (it has no ground-truth loss).
PARTS_WEIGHT = 2.0
_PROBABILITY_HEADS = ("heatmap", "segmentation", "parts")


def distill_loss(outputs: dict[str, torch.Tensor],
                 teacher: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 weights: LossWeights) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted total and the (detached, unweighted) loss of every head a teacher gives.

    teacher: head -> (target, cell weight) from ``distill.Teachers.targets``: probabilities
    for heatmap, segmentation and parts (logistic loss), offsets for short, mid and long
    (L1 in units of R). A head is weighted as in ``weights`` (parts: ``PARTS_WEIGHT``).
    """
    per_head = {}
    for head, (target, cell_weight) in teacher.items():
        if head in _PROBABILITY_HEADS:
            per_head[head] = _logistic(outputs[head], target, cell_weight)
        else:
            per_head[head] = _offset_l1(outputs[head], target, cell_weight)
    total = sum((PARTS_WEIGHT if head == "parts" else getattr(weights, head)) * loss
                for head, loss in per_head.items())
    return total, {name: loss.detach() for name, loss in per_head.items()}


def _logistic(logits: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits, averaged over the kept cells of every channel
    (``target`` may be soft, ``keep`` a weight in [0, 1])."""
    keep = keep.expand_as(logits)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * keep).sum() / keep.sum().clamp(min=1.0)


def _offset_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 of (dx, dy) vectors in units of R, averaged over the vectors whose weight is 1.

    pred, target (B, 2C, h, w), x first; weight (B, C, h, w).
    """
    b, c2, h, w = pred.shape
    error = (pred - target).abs().view(b, c2 // 2, 2, h, w).sum(dim=2) / DISK_RADIUS
    return (error * weight).sum() / weight.sum().clamp(min=1.0)
