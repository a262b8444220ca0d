"""PersonLab loss: exact targets score zero offset loss, ignored cells and untrained heads
contribute nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personlab_gui.core.training.losses import LossWeights, personlab_loss
from personlab_gui.core.skeleton import HEAD_CHANNELS, K
from personlab_gui.core.data.targets import build_targets

HW = (129, 129)


def _targets(crowd: bool = False) -> dict[str, torch.Tensor]:
    kp = np.zeros((1, K, 3), dtype=np.float32)
    kp[0, :, :2] = np.random.default_rng(0).uniform(20, 100, (K, 2))
    kp[0, :, 2] = 2
    masks = np.zeros((1, *HW), dtype=bool)
    masks[0, 10:110, 10:110] = True
    crowd_mask = np.zeros(HW, dtype=bool)
    crowd_mask[:, :64] = crowd
    t = build_targets(kp, masks, crowd_mask, HW)
    return {name: torch.from_numpy(v)[None] for name, v in t.items()}


def _exact_outputs(targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    b, _, h, w = targets["heatmap"].shape
    out = {name: torch.zeros(b, c, h, w, requires_grad=True) for name, c in HEAD_CHANNELS.items()}
    with torch.no_grad():
        for name in ("short", "mid", "long"):
            out[name] += targets[name]
    return out


def test_exact_offsets_have_zero_loss():
    targets = _targets()
    total, per_head = personlab_loss(_exact_outputs(targets), targets, LossWeights())
    assert set(per_head) == set(HEAD_CHANNELS)
    for name in ("short", "mid", "long"):
        assert per_head[name].item() == pytest.approx(0.0, abs=1e-6)
    assert per_head["heatmap"].item() == pytest.approx(np.log(2.0), rel=1e-5)   # logits 0
    assert total.item() == pytest.approx((4 + 2) * np.log(2.0), rel=1e-5)


def test_offset_loss_is_in_units_of_r():
    targets = _targets()
    outputs = _exact_outputs(targets)
    with torch.no_grad():
        outputs["short"] += 8.0   # dx and dy each off by R/4
    _, per_head = personlab_loss(outputs, targets, LossWeights().only(["short"]))
    assert list(per_head) == ["short"]
    assert per_head["short"].item() == pytest.approx(0.5, rel=1e-5)


def test_ignored_cells_do_not_count():
    targets = _targets(crowd=True)
    outputs = _exact_outputs(targets)
    ignored = targets["keypoint_ignore"][:, None].bool().expand_as(outputs["long"])
    with torch.no_grad():
        outputs["long"][ignored] += 100.0
    _, per_head = personlab_loss(outputs, targets, LossWeights())
    assert per_head["long"].item() == pytest.approx(0.0, abs=1e-6)


def test_untrained_heads_get_no_gradient():
    targets = _targets()
    outputs = _exact_outputs(targets)
    total, _ = personlab_loss(outputs, targets, LossWeights().only(["segmentation", "long"]))
    total.backward()
    assert outputs["heatmap"].grad is None and outputs["segmentation"].grad is not None
    with pytest.raises(ValueError):
        LossWeights().only(["elbow"])
