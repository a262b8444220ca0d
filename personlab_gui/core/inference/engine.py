"""The inference engine: image -> network passes -> fused fields -> decoded result.

``Engine.forward`` does the expensive part (network passes and field fusion) and returns
``FieldMaps``, which callers may cache per image and ``InferenceSettings.forward_key()``;
``Engine.decode`` turns them into an ``InferenceResult`` and is cheap, so changing only the
decoder or thresholds never re-runs the network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..decoding.greedy import greedy_decode
from ..decoding.fields import FIELD_STRIDE, Variant, fuse_variants
from ..decoding.hough import CANDIDATE_THRESHOLD, hough_maps, local_maxima
from ..decoding.jit import FIELDS, MASKS, VIEWER, Progress, prepare
from ..model import load_checkpoint, resolve_model, select_device
from ..model.runner import BACKENDS, HALF_DTYPES, NetworkRunner
from ..model.checkpoint import DECODING_KEYS
from ..decoding.posenet import posenet_decode
from ..data.preprocess import InputTransform, make_transform, prepare_input
from ..data.pseudo_labels import DEFAULT_LABEL_THRESHOLD
from ..decoding.refine import LONG_SELF_REFINE_STEPS
from ..decoding.result import InferenceResult, Person
from ..skeleton import MODEL_HEADS

DECODERS = ("personlab", "posenet")
#: Mask assignment rules of ``segment.add_masks`` (kept here so importing settings stays light).
MASK_ASSIGNMENTS = ("embedding", "skeleton", "bodypix")
DEFAULT_SIZE = 641


@dataclass(frozen=True)
class InferenceSettings:
    """What to run: input long side, test-time scales and flip, decoder and thresholds."""

    size: int = DEFAULT_SIZE
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    decoder: str = "personlab"
    candidate_threshold: float = CANDIDATE_THRESHOLD
    min_instance_score: float = 0.0
    mask_assignment: str = "embedding"      # one of MASK_ASSIGNMENTS (PersonLab: embedding)
    label_threshold: float = DEFAULT_LABEL_THRESHOLD   # instance score a pseudo-label needs
    long_refine_steps: int | None = None    # long-range self-refinement; None: the model's own

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose from {', '.join(DECODERS)}")
        if self.mask_assignment not in MASK_ASSIGNMENTS:
            raise ValueError(f"unknown mask assignment {self.mask_assignment!r}; "
                             f"choose from {', '.join(MASK_ASSIGNMENTS)}")
        if self.size < 33 or any(s <= 0 for s in self.scales):
            raise ValueError("input size must be >= 33 and scales positive")
        if not 0.0 <= self.label_threshold <= 1.0:
            raise ValueError(f"label threshold {self.label_threshold}: must be between 0 and 1")
        low, high = DECODING_KEYS["long_self_steps"]
        if self.long_refine_steps is not None and not low <= self.long_refine_steps <= high:
            raise ValueError(f"long-range refinement steps {self.long_refine_steps}: "
                             f"must be between {low} and {high}")

    def forward_key(self) -> tuple:
        """The settings that need a new network pass when they change."""
        return self.size, tuple(self.scales), self.flip


@dataclass
class FieldMaps:
    """Fused network fields on the field grid (see ``fields``), ready to decode."""

    image_hw: tuple[int, int]
    transform: InputTransform
    fields: dict[str, np.ndarray]
    forward_ms: float
    fuse_ms: float
    trained_heads: tuple[str, ...] = field(default=())
    decoding: dict[str, int] = field(default_factory=dict)   # the model's (checkpoint meta)


class Engine:
    """A loaded model on a device, running PersonLab inference on RGB images."""

    def __init__(self, model: str | Path = "default", device: str = "auto", backend: str = "float") -> None:
        self.model_path = resolve_model(model)
        net, info = load_checkpoint(self.model_path, map_location="cpu")
        self._setup(net, tuple(info["trained_heads"]), select_device(device), self.model_path.stem)
        self._use_backend(backend)
        self.info, self.decoding = info, info["decoding"]

    @classmethod
    def from_network(cls, net: torch.nn.Module, trained_heads: tuple[str, ...],
                     device: torch.device | str = "cpu", name: str = "in-memory") -> "Engine":
        """An engine over a network already in memory (e.g. during training); it is not copied."""
        engine = cls.__new__(cls)
        engine.model_path, engine.info = None, {"trained_heads": list(trained_heads), "meta": {}}
        engine.decoding = {}
        engine._setup(net, tuple(trained_heads), torch.device(device), name)
        return engine

    def _setup(self, net: torch.nn.Module, trained_heads: tuple[str, ...], device: torch.device,
               name: str) -> None:
        self.device, self.model_name, self.trained_heads = device, name, trained_heads
        self.net = net.to(device).eval()
        if device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.backend, self.runner = "float", NetworkRunner(self.net, device)

    def _use_backend(self, backend: str) -> None:
        """Run the network with ``backend`` (``BACKENDS``; auto: int8 on a CPU that has the
        kernels, fp16 on CUDA, else float32); ``ValueError`` when it cannot."""
        from ..model.checkpoint import tensor_checksum
        from ..model.onnx_backend import onnx_network
        from ..model.quantize import int8_engine, quantized_network
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        if backend == "auto":
            backend = {"cpu": "int8" if int8_engine() else "float", "cuda": "fp16"}.get(self.device.type, "float")
        if backend in HALF_DTYPES:
            if self.device.type != "cuda":
                raise ValueError(f"{backend} runs on CUDA only (device {self.device})")
            self.backend, self.runner = backend, NetworkRunner(self.net, self.device, dtype=HALF_DTYPES[backend])
        if backend in ("int8", "onnx"):
            if self.device.type != "cpu":
                raise ValueError(f"{backend} runs on the CPU only (device {self.device})")
            checksum = tensor_checksum(self.net.state_dict())
            net = (quantized_network(self.net, checksum) if backend == "int8"
                   else onnx_network(self.net, self._heads(), checksum))
            self.backend, self.runner = backend, NetworkRunner(net, self.device, maskable=False)

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return self.device.type.upper()

    @property
    def output_stride(self) -> int:
        return int(self.net.output_stride)

    def _heads(self) -> tuple[str, ...]:
        return tuple(h for h in MODEL_HEADS if h in self.trained_heads)

    def forward(self, image: np.ndarray, settings: InferenceSettings) -> FieldMaps:
        """Network passes for every test-time variant, fused on the base field grid."""
        return self.forward_batch([image], settings)[0]

    def forward_batch(self, images: list[np.ndarray], settings: InferenceSettings) -> list[FieldMaps]:
        """``forward`` of several images with one network call (padded batch) per
        test-time variant; the same fields as one image at a time."""
        variants = [(round(settings.size * s), flip) for s in settings.scales
                    for flip in ((False, True) if settings.flip else (False,))]
        t0 = time.perf_counter()
        passes = []
        for side, flip in variants:
            prepared = [prepare_input(image, side, self.output_stride, flip=flip) for image in images]
            outputs = self.runner.run([batch for batch, _ in prepared])
            passes.append([Variant(t, flip, out) for (_, t), out in zip(prepared, outputs)])
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        forward_ms = (time.perf_counter() - t0) * 1e3 / len(images)
        return [self._fuse(image, [p[i] for p in passes], settings, forward_ms)
                for i, image in enumerate(images)]

    def _fuse(self, image: np.ndarray, variants: list[Variant], settings: InferenceSettings,
              forward_ms: float) -> FieldMaps:
        base = make_transform(image.shape[:2], settings.size, self.output_stride)
        t1 = time.perf_counter()
        fields = fuse_variants(variants, base, self._heads(), self.output_stride, FIELD_STRIDE)
        t2 = time.perf_counter()
        return FieldMaps(image.shape[:2], base, fields, forward_ms, (t2 - t1) * 1e3,
                         self.trained_heads, self.decoding)

    def decode(self, maps: FieldMaps, settings: InferenceSettings) -> InferenceResult:
        """Decode people (and masks, when those heads are trained) from fused fields."""
        return decode_fields(maps, settings, self.output_stride, self.device_name)

    def kernel_groups(self, settings: InferenceSettings, viewer: bool = False) -> tuple[str, ...]:
        """The numba kernel groups (``jit``) that decoding with ``settings`` runs, and with
        ``viewer`` those of the viewer's extra maps."""
        masks = (MASKS, settings.mask_assignment) if has_masks(self.trained_heads) else ()
        return (FIELDS, settings.decoder, *masks, *((VIEWER,) if viewer else ()))

    def warm_up(self, settings: InferenceSettings, progress: Progress | None = None) -> None:
        """Compile (on a machine's first run) or load the kernels decoding with ``settings``
        runs, so the first image waits for neither; ``progress`` as ``jit.prepare``'s."""
        prepare(self.kernel_groups(settings), progress)

    def run(self, image: np.ndarray, settings: InferenceSettings | None = None) -> InferenceResult:
        """``forward`` then ``decode``."""
        settings = settings or InferenceSettings()
        return self.decode(self.forward(image, settings), settings)


def decode_fields(maps: FieldMaps, settings: InferenceSettings, output_stride: int = 16,
                  device_name: str = "CPU") -> InferenceResult:
    """Run the chosen decoder on fused fields; timing includes the field fusion."""
    t0 = time.perf_counter()
    f, fs = maps.fields, FIELD_STRIDE
    hough = hough_maps(f["heatmap"], f["short"], fs)
    trace = None
    if settings.decoder == "personlab":
        cands = local_maxima(hough, fs, settings.candidate_threshold)
        kps, scores, ev_i, ev_f = greedy_decode(cands, f["heatmap"], hough, f["short"], f["mid"],
                                                fs, output_stride)
    else:
        cands, kps, scores = posenet_decode(f["heatmap"], f["short"], f["mid"], fs, output_stride)
    order = np.flatnonzero(scores >= settings.min_instance_score)
    order = order[np.argsort(-scores[order], kind="stable")]
    people = _to_people(kps[order], scores[order], maps.transform)
    if settings.decoder == "personlab":
        person_ids = np.full(len(kps), -1)
        person_ids[order] = np.arange(len(order))
        trace = (ev_i, ev_f, kps, person_ids)
    result = InferenceResult(
        image_hw=maps.image_hw, transform=maps.transform, field_stride=fs,
        heatmaps=f["heatmap"], short=f["short"], mid=f["mid"], output_stride=output_stride,
        hough=hough, candidates=_split_candidates(cands, f["heatmap"].shape[0]), people=people,
        trace_arrays=trace, trained_heads=maps.trained_heads, decoder=settings.decoder,
        forward_ms=maps.forward_ms, device=device_name, label_threshold=settings.label_threshold,
        parts=f.get("parts"))
    if has_masks(maps.trained_heads):
        from ..decoding.segment import add_masks
        add_masks(result, f["segmentation"], f["long"], assignment=settings.mask_assignment,
                  long_self_steps=long_self_steps(settings, maps.decoding))
    result.decode_ms = maps.fuse_ms + (time.perf_counter() - t0) * 1e3
    return result


def long_self_steps(settings: InferenceSettings, decoding: dict[str, int]) -> int:
    """Long-range self-refinement steps: the user's, else the model's, else the default."""
    if settings.long_refine_steps is not None:
        return settings.long_refine_steps
    return decoding.get("long_self_steps", LONG_SELF_REFINE_STEPS)


def has_masks(trained_heads: tuple[str, ...]) -> bool:
    """Whether a model with these trained heads gives instance masks."""
    return {"segmentation", "long"} <= set(trained_heads)


def _split_candidates(cands: np.ndarray, n_types: int) -> list[np.ndarray]:
    return [cands[cands[:, 0] == k, 1:4] for k in range(n_types)]


def _to_people(kps: np.ndarray, scores: np.ndarray, transform: InputTransform) -> list[Person]:
    """Decoded people (input px) -> ``Person`` objects in image pixels, in the given order."""
    people = []
    for keypoints, score in zip(kps.astype(np.float64), scores):
        keypoints[:, :2] = transform.to_image(keypoints[:, :2])
        people.append(Person(keypoints=keypoints, score=float(score)))
    return people

