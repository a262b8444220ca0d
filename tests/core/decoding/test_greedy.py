"""PersonLab decoding: exact round trips, coordinate mapping, real images, TTA, both decoders."""

from __future__ import annotations

import numpy as np
import pytest

from personlab_gui.core.data.coco_eval import evaluate
from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.data.coco_write import detections_to_results
from personlab_gui.core.inference.engine import Engine, InferenceSettings, decode_fields
from personlab_gui.core.decoding.hough import local_maxima
from personlab_gui.core.data.image_io import load_image
from personlab_gui.core.data.preprocess import make_transform, prepare_input
from personlab_gui.core.skeleton import DIRECTED_EDGES, KAPPAS, POSE_HEADS

from perfect_maps import perfect_field_maps


def oks(gt: dict, keypoints: np.ndarray) -> float:
    """COCO object keypoint similarity of one detection against one annotation."""
    g = np.asarray(gt["keypoints"], dtype=np.float64).reshape(17, 3)
    visible = g[:, 2] > 0
    d2 = ((g[:, :2] - keypoints[:, :2]) ** 2).sum(axis=1)
    return float(np.exp(-d2 / (2 * gt["area"] * KAPPAS ** 2))[visible].mean())


def best_oks(gt: dict, people) -> float:
    return max((oks(gt, p.keypoints) for p in people), default=0.0)


@pytest.fixture(scope="module")
def val(shared_data):
    folder = shared_data / "coco_dev" / "val"
    return load_coco(folder / "person_keypoints.json"), folder / "images"


@pytest.fixture(scope="module")
def engine():
    """The pose-only model: these tests are about pose decoding (and no masks without
    the mask heads)."""
    return Engine("posenet_mnv1_075", "cpu")


def _annotated(gt: dict, image: dict) -> list[dict]:
    return [a for a in gt["annotations"] if a["image_id"] == image["id"]]


def _tree_connected(ann: dict) -> bool:
    """Whether the labelled keypoints form one connected part of the kinematic tree.

    Perfect targets define mid-range vectors only between labelled keypoints, so the walk
    can only reach all of a person's labelled keypoints through labelled ones.
    """
    labelled = set(np.flatnonzero(np.asarray(ann["keypoints"][2::3]) > 0).tolist())
    reached, frontier = set(), [min(labelled)]
    while frontier:
        k = frontier.pop()
        reached.add(k)
        frontier += [b for a, b in DIRECTED_EDGES.tolist() if a == k and b in labelled - reached]
    return reached == labelled


def test_perfect_maps_decode_back_to_annotations(val):
    gt, _ = val
    checked = 0
    for image in gt["images"]:
        anns = _annotated(gt, image)
        maps = perfect_field_maps(anns, (image["height"], image["width"]), heads=POSE_HEADS)
        result = decode_fields(maps, InferenceSettings())
        for ann in anns:
            if ann["iscrowd"] or ann["num_keypoints"] < 5 or not _tree_connected(ann):
                continue
            assert best_oks(ann, result.people) > 0.9, (image["file_name"], ann["id"])
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize("image_hw,size", [((480, 640), 641), ((300, 200), 513), ((1200, 900), 401)])
def test_coordinates_map_back_exactly_for_scaled_images(image_hw, size):
    """A synthetic person placed at known pixels decodes back to those pixels at any scale."""
    h, w = image_hw
    rng = np.random.default_rng(h)
    centre = np.array([w * 0.55, h * 0.45])
    kps = np.concatenate([centre + rng.uniform(-0.3, 0.3, (17, 2)) * [w, h], np.full((17, 1), 2)], 1)
    ann = {"keypoints": kps.ravel().tolist(), "iscrowd": 0, "num_keypoints": 17,
           "area": float(h * w) / 4, "segmentation": [[w * .2, h * .1, w * .8, h * .1, w * .8, h * .9, w * .2, h * .9]]}
    result = decode_fields(perfect_field_maps([ann], image_hw, size, POSE_HEADS), InferenceSettings())
    pixel = 1.0 / make_transform(image_hw, size).scale_xy.min()
    errors = np.abs(result.people[0].keypoints[:, :2] - kps[:, :2])
    assert errors.max() < 0.75 * pixel


def test_a_plateau_is_one_candidate_at_its_centroid_and_border_windows_are_clipped():
    hough = np.zeros((2, 5, 6), dtype=np.float32)
    hough[0, 2, 2] = hough[0, 2, 3] = 0.5            # a tie: the first cell in raster order wins
    hough[1, 0, 0], hough[1, 0, 1] = 0.3, 0.1        # a corner: its window's inside part only
    cands = local_maxima(hough, 4)
    np.testing.assert_allclose(cands, [[0, (2 + 0.5) * 4, 2 * 4, 0.5],
                                       [1, 0.1 / 0.4 * 4, 0, 0.3]], rtol=1e-6)


def test_input_transform_round_trip():
    t = make_transform((333, 517), 641)
    xy = np.random.default_rng(0).uniform(0, 300, (50, 2))
    assert np.allclose(t.to_image(t.to_input(xy)), xy)
    assert all((n - 1) % 16 == 0 for n in t.input_hw)
    image = np.zeros((333, 517, 3), np.uint8)
    image[200, 100] = 255
    for size in (1034, 401):   # up- and downscaled: the dot's centroid maps back onto it
        batch, t = prepare_input(image, size)
        rh, rw = t.resized_hw
        weight = batch[0, :rh, :rw] + 1.0
        ys, xs = np.mgrid[0:rh, 0:rw]
        centre = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()
        assert np.allclose(t.to_image(centre), [100, 200], atol=0.25)


def test_real_image_people_match_ground_truth(val, engine):
    """000000001000.jpg (tennis team): the decoder finds the annotated people."""
    gt, images = val
    image = next(i for i in gt["images"] if i["file_name"] == "000000001000.jpg")
    result = engine.run(load_image(images / image["file_name"]))
    annotated = [a for a in _annotated(gt, image) if a["num_keypoints"] >= 10]
    good = [best_oks(a, result.people[:15]) > 0.5 for a in annotated]
    assert len(annotated) >= 5 and np.mean(good) >= 0.7
    assert result.people[0].score > result.people[-1].score
    assert result.hough.shape == result.heatmaps.shape
    assert result.segmentation is None and all(p.mask is None for p in result.people)


def test_trace_replays_the_decoding(val, engine):
    gt, images = val
    result = engine.run(load_image(images / gt["images"][1]["file_name"]))
    kinds = [e.kind for e in result.trace]
    assert kinds.count("seed") == len(result.people)
    assert kinds.count("edge") == 16 * len(result.people)
    assert kinds.count("place") == 17 * len(result.people)
    assert len(result.mid_refined) == 2 and result.mid_refined[0].shape == result.mid_raw.shape


def test_flip_and_multiscale_agree_with_single_pass(val, engine):
    gt, images = val
    image = load_image(images / "000000001000.jpg")
    plain = engine.run(image, InferenceSettings(size=513))
    tta = engine.run(image, InferenceSettings(size=513, scales=(0.75, 1.0), flip=True))
    top = plain.people[0].keypoints
    match = min(tta.people[:5], key=lambda p: np.abs(p.keypoints[:, :2] - top[:, :2]).sum())
    assert np.median(np.linalg.norm(match.keypoints[:, :2] - top[:, :2], axis=1)) < 8


def test_personlab_decoder_beats_posenet_decoder_on_same_outputs(val, engine):
    gt, images = val
    scores = {}
    for decoder in ("personlab", "posenet"):
        settings = InferenceSettings(decoder=decoder, size=513)
        results = []
        for image in gt["images"]:
            maps = engine.forward(load_image(images / image["file_name"]), settings)
            results += detections_to_results(image["id"], engine.decode(maps, settings).people)
        scores[decoder] = evaluate(gt, results)["keypoints"]["AP"]
    assert scores["personlab"] > scores["posenet"] > 0.3
