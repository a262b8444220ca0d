"""Training loop: learning on a fixed batch, exact resume, cancellation, torchrun, bad resume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from personlab_gui.cli import main
from personlab_gui.core.training.losses import personlab_loss
from personlab_gui.core.model import load_checkpoint
from personlab_gui.core.training import CheckpointHook, HookBase, TrainConfig, Trainer, state_path, train

REPO = Path(__file__).resolve().parents[3]
SIZE = 257


def _subset(root: Path, folder: Path, n: int) -> Path:
    """A COCO JSON of the first ``n`` images of ``root``'s ground truth."""
    gt = json.loads((root / "person_keypoints.json").read_text())
    images = gt["images"][:n]
    ids = {im["id"] for im in images}
    path = folder / f"gt_{n}.json"
    path.write_text(json.dumps({**gt, "images": images,
                                "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
    return path


def _config(root: Path, tmp_path: Path, n_images: int, **overrides) -> TrainConfig:
    settings = dict(train_json=str(_subset(root, tmp_path, n_images)),
                    train_images=str(root / "images"), out=str(tmp_path / "model.pt"),
                    batch_size=1, input_size=SIZE, num_workers=0, device="cpu", max_steps=3)
    return TrainConfig(**{**settings, **overrides})


class _Record(HookBase):
    """Keeps every step's total loss; optionally copies the resume state after step ``copy_at``."""

    def __init__(self, copy_at: int = 0, copy_to: Path | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.losses: dict[int, float] = {}
        self.copy_at, self.copy_to, self.cancel = copy_at, copy_to, cancel

    def after_step(self) -> None:
        t = self.trainer
        self.losses[t.step] = t.losses["total"]
        if t.step == self.copy_at and self.copy_to:
            shutil.copy(state_path(t.config.out), self.copy_to)
        if self.cancel is not None:
            self.cancel.set()


def test_steps_lower_the_loss_on_a_fixed_batch(coco_dev_train, tmp_path):
    trainer = Trainer(_config(coco_dev_train, tmp_path, 1, augment=False, lr=2e-3))
    images, targets = next(trainer._batches())
    losses = []
    for _ in range(6):
        trainer.run_step(images, targets)
        losses.append(trainer.losses["total"])
    assert losses[-1] < 0.9 * losses[0], losses


def test_resume_continues_with_the_identical_next_loss(coco_dev_train, tmp_path):
    config = _config(coco_dev_train, tmp_path, 2, checkpoint_every=2)
    saved = tmp_path / "step2.resume"
    first = _Record(copy_at=2, copy_to=saved)
    Trainer(config, hooks=[CheckpointHook(2), first]).train()
    resumed = _Record()
    trainer = Trainer(config, hooks=[resumed], resume=saved)
    assert trainer.step == 2
    trainer.train()
    assert list(resumed.losses) == [3]
    assert resumed.losses[3] == first.losses[3]
    model, info = load_checkpoint(config.out)
    assert info["meta"]["steps"] == 3
    assert info["trained_heads"] == ["heatmap", "short", "mid", "segmentation", "long", "parts"]  # the default's


def test_cancel_stops_and_saves(coco_dev_train, tmp_path):
    cancel = threading.Event()
    config = _config(coco_dev_train, tmp_path, 1, heads=("segmentation", "long"))
    trainer = Trainer(config, hooks=[_Record(cancel=cancel), CheckpointHook()], cancel=cancel)
    trainer.train()
    assert trainer.step == 1 and trainer.cancelled
    assert state_path(config.out).is_file()
    model, info = load_checkpoint(config.out)
    assert info["meta"]["cancelled"] and info["meta"]["trained_this_run"] == ["segmentation", "long"]


def _torchrun_train(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 -m personlab_gui train ARGS``; every rank's lines are
    prefixed with its number and a crashing rank prints its Python stacks (faulthandler)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--tee", "3", "-m", "personlab_gui", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=110)


def _rank_lines(proc: subprocess.CompletedProcess) -> str:
    return "\n".join(line for line in (proc.stdout + proc.stderr).splitlines()
                     if line.startswith("[default"))[-4000:]


def test_torchrun_two_processes(coco_dev_train, tmp_path):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path / "ddp.pt"
    args = ["--train", str(_subset(coco_dev_train, tmp_path, 3)), "--images", str(coco_dev_train / "images"),
            "--out", str(out), "--steps", "2", "--batch", "1", "--size", str(SIZE), "--workers", "0",
            "--device", "cpu"]
    proc = _torchrun_train(args, tmp_path)
    assert proc.returncode == 0, _rank_lines(proc) + "\n" + proc.stderr[-1500:]
    assert "saved" in _rank_lines(proc)
    model, info = load_checkpoint(out)
    assert info["meta"]["world_size"] == 2 and info["meta"]["steps"] == 2


def test_corrupt_resume_state_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.resume"
    bad.write_bytes(b"\x00not a checkpoint")
    assert main(["train", "--resume", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err


def test_eval_hook_metrics_reach_the_model_meta(coco_dev_train, tmp_path):
    config = _config(coco_dev_train, tmp_path, 1, max_steps=1)
    calls = []

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        calls.append(model.training)
        return {"keypoints/AP": 0.5}
    train(config, evaluate_fn=evaluate)
    assert calls == [False]
    assert load_checkpoint(config.out)[1]["meta"]["metrics"] == {"keypoints/AP": 0.5}


def test_two_training_sets(coco_dev_train, shared_data, tmp_path):
    masks_root = shared_data / "coco128_person_masks"
    if not (masks_root / "person_masks.json").is_file():
        pytest.skip(f"masks-only data not found at {masks_root}")
    first = _subset(coco_dev_train, tmp_path, 2)
    gt = json.loads((masks_root / "person_masks.json").read_text())
    ids = {im["id"] for im in gt["images"][:3]}
    second = tmp_path / "masks_3.json"
    second.write_text(json.dumps({**gt, "images": gt["images"][:3],
                                  "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
    out = tmp_path / "two.pt"
    assert main(["train", "--train", str(first), str(second),
                 "--images", str(coco_dev_train / "images"), str(masks_root / "images"),
                 "--out", str(out), "--steps", "2", "--batch", "2", "--size", str(SIZE),
                 "--workers", "0", "--device", "cpu", "--heads", "segmentation,long"]) == 0
    info = load_checkpoint(out)[1]
    assert info["meta"]["train_data"] == [[str(first), str(coco_dev_train / "images")],
                                          [str(second), str(masks_root / "images")]]
    config = TrainConfig.from_dict(info["meta"]["settings"])
    trainer = Trainer(config)
    assert len(trainer.dataset) == 5 and trainer.steps_per_epoch == 3
    # A batch mixing both sets: the masks-only images add segmentation targets and no
    # long-range weight, so the long loss is exactly the keypoint image's alone.
    keypoint_image, masks_image = trainer.dataset[0], trainer.dataset[2]
    assert keypoint_image[1]["long_weight"].any()
    assert masks_image[1]["segmentation"].any() and not masks_image[1]["long_weight"].any()
    batch = torch.utils.data.default_collate([keypoint_image, masks_image])
    alone = torch.utils.data.default_collate([keypoint_image])
    with torch.no_grad():
        mixed_long = personlab_loss(trainer.model(batch[0]), batch[1], trainer.weights)[1]["long"]
        alone_long = personlab_loss(trainer.model(alone[0]), alone[1], trainer.weights)[1]["long"]
    torch.testing.assert_close(mixed_long, alone_long)


def test_one_images_folder_per_training_json(tmp_path):
    with pytest.raises(ValueError, match="one training images folder per training JSON"):
        TrainConfig(train_json=["a.json", "b.json"], train_images="imgs", out=str(tmp_path / "m.pt"),
                    max_steps=1)
    config = TrainConfig(train_json="a.json", train_images="imgs", out="m.pt", max_steps=1)
    assert config.train_json == ("a.json",) and config.train_images == ("imgs",)
