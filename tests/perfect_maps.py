"""Perfect "network outputs" built from ground truth, for exact decoder tests."""

from __future__ import annotations

import numpy as np
import torch

from personlab_gui.core.inference.engine import FieldMaps
from personlab_gui.core.decoding.fields import Variant, fuse_variants
from personlab_gui.core.data.preprocess import make_transform
from personlab_gui.core.skeleton import ALL_HEADS
from personlab_gui.core.data.targets import annotations_to_input, build_targets

LOGIT = 12.0


def perfect_field_maps(anns: list[dict], image_hw: tuple[int, int], size: int = 641,
                       heads: tuple[str, ...] = ALL_HEADS, stride: int = 16) -> FieldMaps:
    """Field maps a perfect network with output stride ``stride`` would produce for these
    COCO annotations (decode them with ``decode_fields(maps, settings, stride)``)."""
    transform = make_transform(image_hw, size)
    people = annotations_to_input(anns, transform, image_hw)
    targets = build_targets(people.keypoints, people.masks, people.crowd, transform.input_hw,
                            stride, unannotated_masks=people.unannotated)
    outputs = {}
    for name in heads:
        t = targets[name]
        if name in ("heatmap", "segmentation"):
            t = np.where(t > 0, LOGIT, -LOGIT)
        outputs[name] = torch.from_numpy(np.asarray(t, dtype=np.float32)).reshape(1, -1, *t.shape[-2:])
    fields = fuse_variants([Variant(transform, False, outputs)], transform, heads, stride)
    return FieldMaps(image_hw, transform, fields, 0.0, 0.0, heads)
