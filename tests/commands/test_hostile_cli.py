"""Hostile command lines (issue 10): outputs that would destroy data, signals and failures
mid-run, out-of-bounds numbers, odd file names, damaged checkpoints, training traps.

Signals and exit codes are checked on real ``python -m personlab_gui`` processes; the rest
in-process through ``cli.main``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

from personlab_gui.cli import main
from personlab_gui.core.data.coco_read import load_coco
from personlab_gui.core.inference.engine import Engine
from personlab_gui.core.errors import InputError
from personlab_gui.core.model import CheckpointError, PersonLabNet, load_checkpoint, save_checkpoint
from personlab_gui.core.model.checkpoint import FORMAT
from personlab_gui.core.outputs import OutputError, check_output
from personlab_gui.core.interrupts import Terminated, deferred_interrupts, stop_handlers
from personlab_gui.core.training import CheckpointHook, HookBase, TrainConfig, Trainer, TrainError, state_path
from personlab_gui.core.training.hooks import engine_evaluate_fn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "personlab_gui" / "data" / "astronaut.jpg"
ZOO = sorted((ROOT / "model_zoo").glob("*.pt"))


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if "error:" in line]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    shutil.copy(EXAMPLE, path)
    return path


# ---- outputs never destroy an input ------------------------------------------------------

def test_infer_refuses_to_write_over_its_input_image(photo, capsys):
    before = photo.read_bytes()
    assert main(["infer", str(photo), "--out", str(photo)]) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "is one of this command's inputs" in errors[0]
    assert photo.read_bytes() == before


def test_infer_refuses_a_folder_image_reached_through_a_link(photo, tmp_path, capsys):
    link = tmp_path / "out.json"
    link.symlink_to(photo)
    assert main(["infer", str(tmp_path), "--out", str(link)]) == 2
    assert main(["infer", str(tmp_path), "--out", f"{tmp_path}/./photo.jpg"]) == 2
    assert len(_errors(capsys.readouterr().err)) == 2
    assert photo.read_bytes() == EXAMPLE.read_bytes()


def test_infer_refuses_to_write_over_the_model(photo, tmp_path, capsys):
    model = tmp_path / "model.pt"
    shutil.copy(ZOO[0], model)
    assert main(["infer", str(photo), "--model", str(model), "--out", str(model)]) == 2
    assert "inputs" in _errors(capsys.readouterr().err)[0]
    assert model.read_bytes() == ZOO[0].read_bytes()


def test_outputs_refuse_project_folder_device_and_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "p.plab").write_bytes(b"SQLite format 3\x00")
    (tmp_path / "renamed.json").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    for out, problem in [(tmp_path / "p.plab", "PersonLab project"), (tmp_path, "is a folder"),
                         ("/dev/null", "not a regular file"), (fifo, "not a regular file"),
                         (tmp_path / "renamed.json", "SQLite database"),
                         (tmp_path / "missing" / "x.json", "does not exist"),
                         ("/proc/x.json", "cannot write in /proc")]:
        with pytest.raises(OutputError, match=problem):
            check_output(out, [])
    assert (tmp_path / "p.plab").read_bytes() == b"SQLite format 3\x00"


def test_replacing_an_unrelated_file_is_allowed_and_said(photo, tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text("[]")
    assert check_output(old, [photo]) is True and check_output(tmp_path / "new.json", [photo]) is False
    assert main(["infer", str(photo), "--out", str(old), "--size", "129"]) == 0
    assert f"note: {old} exists and will be replaced" in capsys.readouterr().err
    assert isinstance(json.loads(old.read_text()), list)


def test_out_in_a_missing_folder_fails_before_any_image(photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Engine, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(["infer", str(photo), "--out", str(tmp_path / "nope" / "r.json")]) == 2
    assert "does not exist" in _errors(capsys.readouterr().err)[0]


def test_render_refuses_to_write_over_its_image(photo, capsys):
    assert main(["render", str(photo), "--out", str(photo)]) == 2
    assert "inputs" in _errors(capsys.readouterr().err)[0]
    assert photo.read_bytes() == EXAMPLE.read_bytes()


# ---- training data and outputs -----------------------------------------------------------

@pytest.fixture
def small_train_set(coco_dev_train, tmp_path) -> tuple[Path, Path]:
    """Four real training images and their annotations; the second image is truncated."""
    gt = json.loads((coco_dev_train / "person_keypoints.json").read_text())
    gt["images"] = gt["images"][:4]
    keep = {image["id"] for image in gt["images"]}
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    images = tmp_path / "images"
    images.mkdir()
    for image in gt["images"]:
        shutil.copy(coco_dev_train / "images" / image["file_name"], images / image["file_name"])
    bad = images / gt["images"][1]["file_name"]
    bad.write_bytes(bad.read_bytes()[:3000])
    (tmp_path / "t.json").write_text(json.dumps(gt))
    return tmp_path / "t.json", images


def _train_args(train_json: Path, images: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--train", str(train_json), "--images", str(images), "--out", str(out),
            "--size", "129", "--batch", "2", "--heads", "segmentation", "--log-every", "100", *extra]


def test_train_refuses_out_that_is_its_annotations(small_train_set, capsys):
    train_json, images = small_train_set
    before = train_json.read_bytes()
    assert main(_train_args(train_json, images, train_json, "--steps", "1")) == 2
    err = capsys.readouterr().err
    assert "inputs" in err and "Traceback" not in err
    assert train_json.read_bytes() == before
    assert main(_train_args(train_json, images, images, "--steps", "1")) == 2
    assert "is a folder" in capsys.readouterr().err


def test_train_skips_a_corrupt_image_with_one_warning_under_two_workers(small_train_set, tmp_path, capfd):
    train_json, images = small_train_set
    out = tmp_path / "m.pt"
    assert main(_train_args(train_json, images, out, "--steps", "4", "--workers", "2")) == 0
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: skipping training image")]
    assert len(warnings) == 1 and "truncated" in warnings[0], err  # 2 epochs, one warning
    assert "Traceback" not in err
    assert load_checkpoint(out)[1]["meta"]["steps"] == 4
    state = Path(f"{out}.resume")
    assert stat.S_IMODE(state.stat().st_mode) == stat.S_IMODE(out.stat().st_mode) == 0o644


def test_train_with_a_stale_cancel_file_says_so(small_train_set, tmp_path, capsys):
    train_json, images = small_train_set
    cancel = tmp_path / "cancel"
    cancel.touch()
    code = main(_train_args(train_json, images, tmp_path / "m.pt", "--steps", "1",
                            "--cancel-file", str(cancel)))
    assert code == 2
    assert "cancel file exists already" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_train_refuses_missing_validation_images(small_train_set, coco_dev_train, tmp_path):
    train_json, images = small_train_set
    config = TrainConfig(train_json=str(train_json), train_images=str(images), out=str(tmp_path / "m.pt"),
                         val_json=str(coco_dev_train / "person_keypoints.json"), val_images=str(images),
                         max_steps=1, input_size=129, num_workers=0)
    with pytest.raises(InputError, match="validation image not found"):
        engine_evaluate_fn(config, ["heatmap"])


def test_unreadable_validation_image_is_reported_once(small_train_set, tmp_path, capsys):
    train_json, images = small_train_set
    val = json.loads(train_json.read_text())
    val["images"] = val["images"][:2]  # one good image, one truncated
    val["annotations"] = [a for a in val["annotations"] if a["image_id"] in {i["id"] for i in val["images"]}]
    (tmp_path / "val.json").write_text(json.dumps(val))
    config = TrainConfig(train_json=str(train_json), train_images=str(images), out=str(tmp_path / "m.pt"),
                         val_json=str(tmp_path / "val.json"), val_images=str(images), max_steps=1)
    evaluate = engine_evaluate_fn(config, ["heatmap", "short", "mid"])
    model = load_checkpoint(ZOO[0])[0]
    for _ in range(2):
        assert 0.0 <= evaluate(model)["keypoints/AP"] <= 1.0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "validation image skipped" in warnings[0] and "truncated" in warnings[0]


class _StopAt(HookBase):
    """Raises ``error`` after step 2, as Ctrl-C or a failing data loader would."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def after_step(self) -> None:
        if self.trainer.step == 2:
            raise self.error


def _small_config(train_json: Path, images: Path, out: Path) -> TrainConfig:
    return TrainConfig(train_json=str(train_json), train_images=str(images), out=str(out),
                       heads=("segmentation",), max_steps=5, batch_size=2, input_size=129, num_workers=0)


def test_train_interrupted_saves_model_and_state(small_train_set, tmp_path):
    config = _small_config(*small_train_set, tmp_path / "m.pt")
    trainer = Trainer(config, hooks=[CheckpointHook(), _StopAt(Terminated())])
    trainer.train()
    assert isinstance(trainer.stop_signal, Terminated) and trainer.cancelled
    assert load_checkpoint(config.out)[1]["meta"]["steps"] == 2
    assert torch.load(state_path(config.out), weights_only=True)["step"] == 2


def test_train_failing_mid_run_saves_the_state_and_says_so(small_train_set, tmp_path):
    config = _small_config(*small_train_set, tmp_path / "m.pt")
    trainer = Trainer(config, hooks=[CheckpointHook(), _StopAt(OSError(5, "Input/output error"))])
    with pytest.raises(TrainError, match="stopped at step 2: .*Input/output error; the model and the resume"):
        trainer.train()
    assert torch.load(state_path(config.out), weights_only=True)["step"] == 2


@pytest.mark.parametrize("args, problem", [
    (["--size", "100000"], "input size"), (["--lr", "nan"], "learning rate"),
    (["--batch", "0"], "batch size"), (["--workers", "-1"], "workers"),
])
def test_train_numbers_out_of_bounds(small_train_set, tmp_path, capsys, args, problem):
    train_json, images = small_train_set
    assert main(_train_args(train_json, images, tmp_path / "m.pt", "--steps", "1", *args)) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and problem in errors[0]


# ---- numbers and names -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--size", "0"], ["--size", "-5"], ["--size", "100000"], ["--scales", "0"], ["--scales", "nan"],
    ["--scales", "inf"], ["--scales", "50"], ["--scales", "1", "-1"], ["--min-score", "nan"],
    ["--min-score", "2"],
])
@pytest.mark.parametrize("command", ["infer", "eval"])
def test_inference_numbers_out_of_bounds_are_one_line(command, args, photo, tmp_path, capsys):
    where = (["infer", str(photo), "--out", str(tmp_path / "r.json")] if command == "infer"
             else ["eval", "--gt", str(tmp_path / "gt.json"), "--images", str(tmp_path)])
    assert main([*where, *args]) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and args[0] in errors[0]


@pytest.mark.parametrize("args", [["--input-size", "0"], ["--input-size", "100000"], ["--size", "100000x5"]])
def test_render_numbers_out_of_bounds(args, photo, tmp_path, capsys):
    assert main(["render", str(photo), "--out", str(tmp_path / "v.png"), *args]) == 2
    assert len(_errors(capsys.readouterr().err)) == 1


def test_duplicate_inputs_are_processed_once(photo, tmp_path):
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    out = tmp_path / "d.json"
    assert main(["infer", str(photo), f"{tmp_path}/./photo.jpg", str(link), str(tmp_path),
                 "--out", str(out), "--size", "129", "--format", "dataset"]) == 0
    assert [image["file_name"] for image in load_coco(out)["images"]] == ["photo.jpg"]


def test_odd_paths_are_one_line_each_and_the_rest_is_written(photo, tmp_path, capsys):
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    long_name = tmp_path / ("x" * 300 + ".jpg")
    out = tmp_path / "r.json"
    assert main(["infer", str(loop), str(photo), str(long_name), "--out", str(out), "--size", "129"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 2 and "symbolic link loop" in errors[0] and "file name too long" in errors[1]
    assert {r["image_id"] for r in json.loads(out.read_text())} == {2}


def test_unlistable_folder_is_one_line(tmp_path, capsys, monkeypatch):
    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "iterdir", denied)
    assert main(["infer", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "cannot list the folder: permission denied" in errors[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes every folder")
def test_unreadable_folder_and_read_only_out_folder_for_real(photo, tmp_path, capsys):
    locked, read_only = tmp_path / "locked", tmp_path / "read_only"
    locked.mkdir()
    read_only.mkdir()
    locked.chmod(0)
    read_only.chmod(0o555)
    try:
        assert main(["infer", str(locked), "--out", str(tmp_path / "r.json")]) == 2
        assert main(["infer", str(photo), "--out", str(read_only / "r.json")]) == 2
    finally:
        locked.chmod(0o755)
        read_only.chmod(0o755)
    errors = _errors(capsys.readouterr().err)
    assert "permission denied" in errors[0] and "cannot write in" in errors[1]


def test_non_utf8_file_name_keeps_the_dataset_importable(photo, tmp_path, capsys):
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.jpg"))
    shutil.copy(photo, odd)
    out = tmp_path / "d.json"
    assert main(["infer", str(tmp_path), "--out", str(out), "--size", "129", "--format", "dataset"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "not valid UTF-8" in errors[0]
    out.read_bytes().decode("utf-8")
    assert [image["file_name"] for image in load_coco(out)["images"]] == ["photo.jpg"]


# ---- whatever ends the run, what finished is written -------------------------------------

def test_any_exception_mid_batch_still_writes_what_finished(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in "abc":
        shutil.copy(EXAMPLE, folder / f"{name}.jpg")
        with (folder / f"{name}.jpg").open("ab") as f:
            f.write(name.encode())  # three different files
    real_forward, calls = Engine.forward_batch, []

    def failing(self, images, settings):  # the network pass of each image (batch 1)
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError()           # one image too big: that image fails, the batch goes on
        if len(calls) == 3:
            raise ZeroDivisionError("a bug")   # anything else: stop, keep what finished
        return real_forward(self, images, settings)
    monkeypatch.setattr(Engine, "forward_batch", failing)
    out = tmp_path / "r.json"
    assert main(["infer", str(folder), "--out", str(out), "--size", "129", "--format", "dataset"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert "b.jpg: out of memory" in errors[0] and "ZeroDivisionError: a bug" in errors[1]
    assert [image["file_name"] for image in load_coco(out)["images"]] == ["a.jpg"]


def test_a_signal_while_saving_waits_for_the_file_and_later_ones_are_ignored(tmp_path):
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    written = tmp_path / "saved"
    with pytest.raises(Terminated):
        with stop_handlers():
            with deferred_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C
                written.write_text("complete")
    assert written.read_text() == "complete"
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # stays ignored until the process ends
    for signum, handler in before.items():
        signal.signal(signum, handler)


def _start_infer(folder: Path, out: Path) -> tuple[subprocess.Popen, list[bytes]]:
    """``infer`` in a child process; its stderr collects in the returned list as it comes."""
    argv = ["infer", str(folder), "--out", str(out), "--size", "129", "--format", "dataset"]
    process = subprocess.Popen([sys.executable, "-m", "personlab_gui", *argv], stderr=subprocess.PIPE, cwd=ROOT)
    chunks: list[bytes] = []
    read = lambda: os.read(process.stderr.fileno(), 4096)  # noqa: E731
    threading.Thread(target=lambda: chunks.extend(iter(read, b"")), daemon=True).start()
    return process, chunks


def _wait_for(chunks: list[bytes], marker: bytes, process: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while marker not in b"".join(chunks):
        assert process.poll() is None and time.monotonic() < end, b"".join(chunks).decode()
        time.sleep(0.02)


@pytest.mark.parametrize("signals, code, word", [
    ([signal.SIGTERM], 143, "terminated"), ([signal.SIGINT, signal.SIGINT], 130, "interrupted"),
])
def test_stop_signals_keep_finished_images(coco_dev_train, tmp_path, signals, code, word):
    out = tmp_path / "d.json"
    process, chunks = _start_infer(coco_dev_train / "images", out)
    _wait_for(chunks, b"[2/41]", process)
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.02)
    assert process.wait(60) == code
    err = b"".join(chunks).decode()
    assert f"({word})" in err and "Traceback" not in err
    assert 2 <= len(load_coco(out)["images"]) < 41


@pytest.mark.parametrize("delay", [0.5, 1.0, 1.5])
def test_sigint_while_the_model_loads_is_one_line(coco_dev_train, tmp_path, delay):
    # while torch and numba import (an interrupt there once ended the process by SIGINT, -2),
    # the model loads, or (on a fast machine) the first images run
    process, chunks = _start_infer(coco_dev_train / "images", tmp_path / "r.json")
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    lines = [line for line in b"".join(chunks).decode().splitlines() if line.strip()]
    assert lines[-1] == "interrupted" or lines[-1].endswith("(interrupted)")
    assert "Traceback" not in "".join(lines)


# ---- checkpoints -------------------------------------------------------------------------

@pytest.fixture
def checkpoint(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    save_checkpoint(path, PersonLabNet(), ["heatmap"], {"source": "test"})
    return path


def test_a_flipped_bit_in_the_weights_is_refused(checkpoint):
    with zipfile.ZipFile(checkpoint) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data, header = bytearray(checkpoint.read_bytes()), entry.header_offset
    name_length, extra_length = (int.from_bytes(data[header + i:header + i + 2], "little") for i in (26, 28))
    data[header + 30 + name_length + extra_length + entry.file_size // 2] ^= 0x10  # in the tensor bytes
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match their checksum"):
        load_checkpoint(checkpoint)


def test_non_finite_weights_are_refused(checkpoint):
    payload = torch.load(checkpoint, weights_only=True)
    name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
    payload["state_dict"][name][0] = float("nan")
    del payload["checksum"]
    torch.save(payload, checkpoint)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_checkpoint(checkpoint)


def test_checkpoints_without_a_checksum_still_load(checkpoint):
    payload = torch.load(checkpoint, weights_only=True)
    del payload["checksum"]
    torch.save(payload, checkpoint)
    assert load_checkpoint(checkpoint)[1]["format"] == FORMAT


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_zoo_checkpoints_carry_a_verified_checksum(path):
    assert torch.load(path, weights_only=True)["checksum"].startswith("sha256:")
    load_checkpoint(path)
