"""Checkpoint files: a ``PersonLabNet`` state dict plus backbone, trained heads and metadata.

File content (``torch.save``, loadable with ``weights_only=True``)::

    {"format": FORMAT, "backbone": str, "trained_heads": [head, ...],
     "meta": {JSON-able: parent, source, date, settings, metrics, decoding, ...},
     "state_dict": {name: tensor}, "checksum": "sha256:<hex>",
     "extra_heads": [head, ...]}   # only when the network has optional heads (e.g. parts)

The checksum covers every tensor's name, dtype, shape and bytes (``tensor_checksum``);
loading verifies it, so a flipped bit in the weights is refused. Files written before
checksums existed (no ``checksum`` key) still load. Weights that are not finite are refused.
``meta["decoding"]`` (optional) holds the model's own decoding settings (``DECODING_KEYS``),
used unless the user overrides them; a value out of range is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..skeleton import ALL_HEADS, EXTRA_HEADS, MODEL_HEADS
from .backbones import available_backbones
from .net import PersonLabNet

FORMAT = "personlab-gui-checkpoint/1"
PathLike = str | os.PathLike
_FILE_MODE = 0o644
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format
#: Decoding settings a checkpoint may set, with their integer bounds: long-range
#: self-refinement steps (``refine.refine_long``).
DECODING_KEYS = {"long_self_steps": (0, 8)}


class CheckpointError(Exception):
    """A checkpoint cannot be used; the message is one line: '<path>: <problem>'."""


def _first_sentence(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].split(". ")[0][:160] if lines else type(exc).__name__


def save_checkpoint(path: PathLike, model: PersonLabNet, trained_heads: list[str],
                    meta: dict[str, Any]) -> None:
    """Write ``model`` to ``path`` atomically (temp file in the same folder, then rename).

    ``meta`` must be JSON-able; head names the model lacks raise ValueError.
    """
    unknown = set(trained_heads) - set(model.heads)
    if unknown:
        raise ValueError(f"unknown heads: {sorted(unknown)}")
    payload = {
        "format": FORMAT,
        "backbone": model.backbone_name,
        "trained_heads": [h for h in MODEL_HEADS if h in trained_heads],
        "meta": json.loads(json.dumps(meta)),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
    }
    payload["checksum"] = tensor_checksum(payload["state_dict"])
    if model.extra_heads:
        payload["extra_heads"] = list(model.extra_heads)
    atomic_torch_save(payload, path)


def atomic_torch_save(payload: Any, path: PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, mode 0644, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tensor_checksum(state: dict[str, torch.Tensor]) -> str:
    """``"sha256:<hex>"`` of the tensors' names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return f"sha256:{digest.hexdigest()}"


def _read(path: Path) -> dict:
    try:
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
        with path.open("rb") as f:
            magic = f.read(4)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if magic != _ZIP_MAGIC:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (no zip header)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: holds objects that safe (weights_only) loading refuses") from None
    except Exception as exc:  # torch raises several types for damaged archives
        raise CheckpointError(f"{path}: corrupt or truncated PyTorch file ({_first_sentence(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} file")
    return payload


def _check_header(path: Path, payload: dict) -> dict[str, Any]:
    backbone, heads, meta = payload.get("backbone"), payload.get("trained_heads"), payload.get("meta")
    extra = payload.get("extra_heads", [])
    if backbone not in available_backbones():
        raise CheckpointError(f"{path}: unknown backbone {backbone!r}")
    if not isinstance(extra, list) or not all(isinstance(h, str) and h in EXTRA_HEADS for h in extra):
        raise CheckpointError(f"{path}: bad extra_heads {extra!r}")
    if not isinstance(heads, list) or not set(heads) <= set(ALL_HEADS) | set(extra):
        raise CheckpointError(f"{path}: bad trained_heads {heads!r}")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: meta is not a dict")
    decoding = _check_decoding(path, meta.get("decoding", {}))
    if not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(f"{path}: state_dict missing")
    if "checksum" in payload and not isinstance(payload["checksum"], str):
        raise CheckpointError(f"{path}: bad checksum {payload['checksum']!r}")
    return {"path": str(path), "format": FORMAT, "backbone": backbone,
            "trained_heads": list(heads), "extra_heads": list(extra), "meta": meta,
            "decoding": decoding}


def _check_decoding(path: Path, decoding: Any) -> dict[str, int]:
    """``meta["decoding"]`` checked against ``DECODING_KEYS`` (one-line error otherwise)."""
    if not isinstance(decoding, dict) or not set(decoding) <= set(DECODING_KEYS):
        raise CheckpointError(f"{path}: bad decoding settings {decoding!r} "
                              f"(known: {', '.join(DECODING_KEYS)})")
    for key, value in decoding.items():
        low, high = DECODING_KEYS[key]
        if type(value) is not int or not low <= value <= high:
            raise CheckpointError(f"{path}: decoding setting {key} = {value!r}: "
                                  f"must be an integer in {low}..{high}")
    return dict(decoding)


def _check_state(path: Path, model: PersonLabNet, state: dict, checksum: str | None) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise CheckpointError(f"{path}: state_dict does not match the model ({detail})")
    for name, ref in expected.items():
        value = state[name]
        if not isinstance(value, torch.Tensor) or value.shape != ref.shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(f"{path}: {name} has shape {shape}, expected {tuple(ref.shape)}")
    _check_checksum(path, state, checksum)
    bad = next((name for name, value in state.items()
                if value.is_floating_point() and not bool(torch.isfinite(value).all())), None)
    if bad is not None:
        raise CheckpointError(f"{path}: {bad} holds non-finite weights (NaN or infinity)")


def _check_checksum(path: Path, state: dict, expected: str | None) -> None:
    """A file with a checksum must match it (older files without one are accepted)."""
    if expected is not None and tensor_checksum(state) != expected:
        raise CheckpointError(f"{path}: the weights do not match their checksum (the file is damaged)")


def load_checkpoint(path: PathLike, map_location: str | torch.device = "cpu"
                    ) -> tuple[PersonLabNet, dict[str, Any]]:
    """Load a checkpoint: (model in eval mode on ``map_location``, info dict).

    info has path, format, backbone, trained_heads, extra_heads, meta and decoding (the
    checked ``meta["decoding"]``, {} when absent). Raises
    ``CheckpointError``.
    """
    path = Path(path)
    payload = _read(path)
    info = _check_header(path, payload)
    model = PersonLabNet(info["backbone"], info["extra_heads"])
    _check_state(path, model, payload["state_dict"], payload.get("checksum"))
    model.load_state_dict(payload["state_dict"])
    return model.to(map_location).eval(), info


def read_checkpoint_info(path: PathLike) -> dict[str, Any]:
    """The info dict of a fully validated checkpoint (the model is built and dropped)."""
    return load_checkpoint(path)[1]
