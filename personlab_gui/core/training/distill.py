"""Distillation teachers: frozen networks whose outputs on the training batch are the
targets of the student's heads (``losses.distill_loss``).

A teacher is given as ``HEADS=MODEL`` (e.g. ``heatmap,short,mid=posenet_mnv1_075``); a head
given by several teachers gets the mean of their targets and cell weights. Targets and
where they count (cell weights), from each teacher's own outputs:

* heatmap, segmentation: its probabilities, everywhere;
* parts: its probabilities, weighted by its p_S (parts mean nothing off a person);
* short: its offsets, weighted by its heatmap probability of that keypoint (the disk);
* mid: its offsets, weighted by its heatmap probability of the edge's source keypoint;
* long: its offsets, weighted by its p_S.

Teachers see the student's input as is (u / 127.5 - 1); BodyPix was trained on
(u - 128) / 128, a 0.4 % difference that is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import load_checkpoint, resolve_model
from ..skeleton import DIRECTED_EDGES, K, MODEL_HEADS

_SOURCE_KEYPOINTS = torch.as_tensor(DIRECTED_EDGES[:, 0])


@dataclass(frozen=True)
class TeacherSpec:
    """The heads one teacher model gives targets for."""

    heads: tuple[str, ...]
    model: str

    @classmethod
    def parse(cls, text: str) -> TeacherSpec:
        """``'HEAD[,HEAD...]=MODEL'``; ValueError (one line) otherwise."""
        heads_text, sep, model = text.partition("=")
        heads = tuple(h.strip() for h in heads_text.split(",") if h.strip())
        unknown = sorted(set(heads) - set(MODEL_HEADS))
        if not sep or not heads or not model.strip() or unknown:
            raise ValueError(f"teacher {text!r}: use HEAD[,HEAD...]=MODEL with heads from "
                             f"{', '.join(MODEL_HEADS)}")
        return cls(heads, model.strip())


class Teachers:
    """The teacher models of a run, frozen and in eval mode on ``device``."""

    def __init__(self, specs: list[TeacherSpec], device: torch.device) -> None:
        self.members = []
        for spec in specs:
            model, info = load_checkpoint(resolve_model(spec.model), map_location=device)
            missing = [h for h in spec.heads if h not in info["trained_heads"]]
            if missing:
                raise ValueError(f"{info['path']}: teacher has no trained {', '.join(missing)} head")
            self.members.append((spec.heads, model.requires_grad_(False).eval()))
        self.heads = tuple(h for h in MODEL_HEADS if any(h in heads for heads, _ in self.members))

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """head -> (target, cell weight) on this batch, averaged over the head's teachers."""
        sums: dict[str, list[torch.Tensor]] = {}
        counts: dict[str, int] = {}
        for heads, model in self.members:
            outputs = model(images)
            for head in heads:
                pair = _head_target(outputs, head)
                sums[head] = [a + b for a, b in zip(sums[head], pair)] if head in sums else list(pair)
                counts[head] = counts.get(head, 0) + 1
        return {head: (target / counts[head], weight / counts[head])
                for head, (target, weight) in sums.items()}


def _head_target(outputs: dict[str, torch.Tensor], head: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, cell weight) of one head from one teacher's outputs (module docstring)."""
    p_keypoint = torch.sigmoid(outputs["heatmap"])
    p_person = torch.sigmoid(outputs["segmentation"])
    if head in ("heatmap", "segmentation"):
        probability = torch.sigmoid(outputs[head])
        return probability, torch.ones_like(probability[:, :1])
    if head == "parts":
        return torch.sigmoid(outputs["parts"]), p_person
    if head == "short":
        return outputs["short"], p_keypoint
    if head == "mid":
        return outputs["mid"], p_keypoint[:, _SOURCE_KEYPOINTS.to(p_keypoint.device)]
    return outputs["long"], p_person.expand(-1, K, -1, -1)
