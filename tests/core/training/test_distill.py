"""Distillation: teacher specs, teacher targets, the distillation loss, unlabeled images and
a distilled training run with a head only a teacher gives (parts)."""

from __future__ import annotations

import pytest
import torch

from personlab_gui.cli import main
from personlab_gui.core.data.dataset import UnlabeledImages
from personlab_gui.core.training.distill import Teachers, TeacherSpec
from personlab_gui.core.data.image_io import IMAGE_SUFFIXES
from personlab_gui.core.training.losses import LossWeights, distill_loss, personlab_loss
from personlab_gui.core.model import load_checkpoint, resolve_model
from personlab_gui.core.skeleton import DIRECTED_EDGES
from personlab_gui.core.training import TrainConfig, train

SIZE = 129


@pytest.fixture(scope="module")
def no_people(shared_data):
    folder = shared_data / "distill" / "no_people"
    if not folder.is_dir():
        pytest.skip(f"distillation images not found at {folder}")
    return folder


def test_teacher_spec_parses_heads_and_model():
    spec = TeacherSpec.parse("heatmap, short,mid=posenet_mnv1_075")
    assert spec == TeacherSpec(("heatmap", "short", "mid"), "posenet_mnv1_075")
    for bad in ("posenet_mnv1_075", "=posenet_mnv1_075", "heatmap=", "elbow=posenet_mnv1_075"):
        with pytest.raises(ValueError, match="HEAD"):
            TeacherSpec.parse(bad)


def test_a_head_of_two_teachers_is_their_mean():
    images = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    posenet = Teachers([TeacherSpec(("heatmap", "short"), "posenet_mnv1_075")], torch.device("cpu"))
    bodypix = Teachers([TeacherSpec(("heatmap",), "bodypix_mnv1_075")], torch.device("cpu"))
    both = Teachers([TeacherSpec(("heatmap", "short"), "posenet_mnv1_075"),
                     TeacherSpec(("heatmap",), "bodypix_mnv1_075")], torch.device("cpu"))
    a, b, mean = posenet.targets(images), bodypix.targets(images), both.targets(images)
    assert both.heads == ("heatmap", "short")
    assert not torch.allclose(a["heatmap"][0], b["heatmap"][0], atol=1e-3)
    torch.testing.assert_close(mean["heatmap"][0], (a["heatmap"][0] + b["heatmap"][0]) / 2)
    torch.testing.assert_close(mean["short"][0], a["short"][0])       # one teacher: its own


def test_offsets_count_where_the_teacher_sees_their_source():
    images = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    teachers = Teachers([TeacherSpec(("short", "mid", "long", "parts"), "bodypix_mnv1_075")],
                        torch.device("cpu"))
    targets = teachers.targets(images)
    model, _ = load_checkpoint(resolve_model("bodypix_mnv1_075"))
    with torch.no_grad():
        out = model(images)
    p_keypoint, p_person = torch.sigmoid(out["heatmap"]), torch.sigmoid(out["segmentation"])
    torch.testing.assert_close(targets["short"][1], p_keypoint)
    torch.testing.assert_close(targets["mid"][1][:, 5], p_keypoint[:, DIRECTED_EDGES[5, 0]])
    torch.testing.assert_close(targets["long"][1][:, 3], p_person[:, 0])
    torch.testing.assert_close(targets["parts"][0], torch.sigmoid(out["parts"]))


def test_distill_loss_is_zero_on_matching_offsets_and_ignores_unweighted_cells():
    target = torch.randn(1, 34, 5, 5) * 20
    weight = torch.zeros(1, 17, 5, 5)
    weight[:, :, 2, 2] = 1.0
    outputs = {"short": target.clone()}
    loss, _ = distill_loss(outputs, {"short": (target, weight)}, LossWeights())
    assert float(loss) == 0.0
    outputs["short"][:, :, 0, 0] += 50.0                       # a cell of weight 0
    assert float(distill_loss(outputs, {"short": (target, weight)}, LossWeights())[0]) == 0.0
    outputs["short"][:, 0, 2, 2] += 32.0                       # one R on one vector of 17
    loss, per_head = distill_loss(outputs, {"short": (target, weight)}, LossWeights(short=2.0))
    assert float(per_head["short"]) == pytest.approx(1 / 17)
    assert float(loss) == pytest.approx(2 / 17)


def test_distill_loss_of_probabilities_is_lowest_at_the_teacher():
    teacher = torch.rand(1, 17, 4, 4) * 0.98 + 0.01
    logits = torch.logit(teacher).requires_grad_(True)
    loss, _ = distill_loss({"heatmap": logits}, {"heatmap": (teacher, torch.ones(1, 1, 4, 4))},
                           LossWeights())
    loss.backward()
    assert float(logits.grad.abs().max()) < 1e-6
    worse, _ = distill_loss({"heatmap": logits.detach() + 0.5},
                            {"heatmap": (teacher, torch.ones(1, 1, 4, 4))}, LossWeights())
    assert float(worse) > float(loss.detach())


def test_unlabeled_images_ignore_every_ground_truth_target(no_people):
    dataset = UnlabeledImages(no_people, SIZE, seed=1)
    assert len(dataset) == len([p for p in no_people.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES])
    image, targets = dataset[0]
    assert image.shape == (3, SIZE, SIZE) and float(image.std()) > 0.05
    assert bool((targets["keypoint_ignore"] == 1).all()) and bool((targets["segmentation_ignore"] == 1).all())
    batch = {k: v[None] for k, v in targets.items()}
    outputs = {k: torch.randn(1, v.shape[0] if v.ndim == 3 else 1, *v.shape[-2:])
               for k, v in targets.items() if k in ("heatmap", "short", "mid", "long")}
    outputs["segmentation"] = torch.randn(1, 1, *targets["segmentation"].shape)
    total, _ = personlab_loss(outputs, batch, LossWeights())
    assert float(total) == 0.0


def test_config_needs_teachers_for_unlabeled_images_and_extra_heads(tmp_path):
    with pytest.raises(ValueError, match="teacher"):
        TrainConfig(train_json=(), train_images=(), unlabeled=(str(tmp_path),), out="m.pt", max_steps=1)
    with pytest.raises(ValueError, match="only from a teacher"):
        TrainConfig(train_json="a.json", train_images="img", out="m.pt", max_steps=1,
                    heads=("segmentation", "parts"))
    config = TrainConfig(train_json=(), train_images=(), unlabeled=(str(tmp_path),), out="m.pt",
                         max_steps=1, heads=("segmentation",), teachers=("parts,long=bodypix_mnv1_075",))
    assert config.heads == ("segmentation", "long", "parts")
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_distilled_run_adds_the_parts_head_and_keeps_the_teachers_frozen(no_people, tmp_path):
    teacher_file = resolve_model("bodypix_mnv1_075")
    before = teacher_file.read_bytes()
    config = TrainConfig(train_json=(), train_images=(), unlabeled=(str(no_people),),
                         out=str(tmp_path / "student.pt"), init_model="posenet_mnv1_075",
                         heads=("segmentation",), teachers=("segmentation,parts=bodypix_mnv1_075",),
                         train_parts="heads", batch_size=2, input_size=SIZE, max_steps=2,
                         num_workers=0, device="cpu", lr=1e-2)
    trainer = train(config)
    assert teacher_file.read_bytes() == before
    assert set(trainer.losses) == {"total", "segmentation", "distill/segmentation", "distill/parts"}
    assert trainer.losses["segmentation"] == 0.0          # no ground truth on these images
    student, info = load_checkpoint(config.out)
    parent, _ = load_checkpoint(resolve_model("posenet_mnv1_075"))
    assert info["extra_heads"] == ["parts"] and "parts" in info["trained_heads"]
    assert info["meta"]["settings"]["teachers"] == ["segmentation,parts=bodypix_mnv1_075"]
    torch.testing.assert_close(student.heads["heatmap"].weight, parent.heads["heatmap"].weight)
    assert not torch.equal(student.heads["segmentation"].weight, parent.heads["segmentation"].weight)


def test_cli_refuses_a_bad_teacher_in_one_line(tmp_path, capsys):
    code = main(["train", "--unlabeled", str(tmp_path), "--teacher", "elbow=posenet_mnv1_075",
                 "--out", str(tmp_path / "m.pt"), "--steps", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "teacher 'elbow=posenet_mnv1_075'" in err
