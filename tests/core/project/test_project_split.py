"""Held-out validation images of a project: deterministic, the asked share, never all."""

from __future__ import annotations

from personlab_gui.core.project.split import coco_counts, held_out, split_coco


def test_held_out_is_deterministic_and_the_asked_share():
    names = [f"img_{i:03d}.jpg" for i in range(40)]
    chosen = held_out(names, 0.2)
    assert len(chosen) == 8 and chosen == held_out(list(reversed(names)), 0.2)
    assert held_out(names, 0.0) == set() and len(held_out(names[:3], 0.01)) == 1


def test_split_keeps_each_image_with_its_people():
    data = {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in (1, 2, 3, 4)],
            "annotations": [{"id": 10 + i, "image_id": i, "iscrowd": int(i == 4)} for i in (1, 2, 3, 4)],
            "categories": []}
    train, val = split_coco(data, 0.25)
    assert len(val["images"]) == 1 and len(train["images"]) == 3
    for part in (train, val):
        ids = {image["id"] for image in part["images"]}
        assert all(ann["image_id"] in ids for ann in part["annotations"])
    assert coco_counts(data).people == 3        # crowd regions are not people
