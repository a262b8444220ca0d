"""COCO person data for training: images and PersonLab targets, with augmentation.

A sample is the image resized by a random factor (prepared exactly like inference input,
``preprocess.prepare_input``), cropped or padded to a square S x S input (S = 16n + 1) at a
random place, maybe mirrored (left/right keypoints swapped), with photometric jitter, and
the targets of ``targets.build_targets`` for the same frame. Randomness is a function of
(seed, epoch, index) only, so samples are reproducible in any worker and on resume.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .coco_read import load_coco
from ..errors import ImageLoadError, InputError
from .image_io import list_images, load_image, safe_join
from .preprocess import prepare_input
from ..skeleton import FLIP_PERMUTATION
from .targets import InputAnnotations, annotations_to_input, build_targets

PERSON_CATEGORY = 1


@dataclass(frozen=True)
class Augment:
    """Random training augmentation; the identity when every range is empty."""

    scale: tuple[float, float] = (0.75, 1.25)   # factor on the input size for the long side
    flip: float = 0.5                           # probability of a horizontal flip
    brightness: float = 0.2                     # +- shift, in [-1, 1] input units
    contrast: float = 0.2                       # +- relative
    saturation: float = 0.2                     # +- relative


class CocoPersonDataset(Dataset):
    """(image (3, S, S) float32 in [-1, 1], targets dict of tensors) for each COCO image.

    People with keypoints are trained on; people with a mask but no keypoints count for
    segmentation only; crowd regions are ignored (see ``targets``). With ``train=False``
    the image is placed like inference input (long side S, padding right/bottom).
    """

    labelled = True   # False: every target is ignored (the images train through teachers only)

    def __init__(self, coco_json: str | Path, image_dir: str | Path, input_size: int = 401,
                 train: bool = True, augment: Augment | None = None, seed: int = 0,
                 stride: int = 16) -> None:
        self._set_sampling(input_size, train, augment, seed, stride)
        gt = load_coco(coco_json)
        self.images = list(gt["images"])
        self.paths = [safe_join(image_dir, record["file_name"]) for record in self.images]
        missing = [p for p in self.paths if not p.is_file()]
        if missing:
            raise InputError(missing[0], f"image file not found ({len(missing)} of {len(self.paths)} missing)")
        self.anns: dict[int, list[dict]] = defaultdict(list)
        for ann in gt["annotations"]:
            if ann.get("category_id", PERSON_CATEGORY) == PERSON_CATEGORY:
                self.anns[ann["image_id"]].append(ann)
        # images found unreadable, shared with the loader's worker processes
        self.unreadable = torch.zeros(len(self.images), dtype=torch.bool).share_memory_()

    def _set_sampling(self, input_size: int, train: bool, augment: Augment | None, seed: int,
                      stride: int) -> None:
        """Input size, augmentation and seed (checked: S = stride * n + 1)."""
        if input_size < stride + 1 or (input_size - 1) % stride:
            raise ValueError(f"input size {input_size} is not {stride}n + 1 (e.g. 257, 401, 513)")
        self.size, self.stride, self.train, self.seed = input_size, stride, train, seed
        self.augment = (augment or Augment()) if train else None
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch, which (with the seed and the index) fixes each sample's randomness."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The sample of ``index``; an unreadable image is skipped (one warning on stderr,
        the first time) and the next readable one stands in for it."""
        for candidate in (i % len(self) for i in range(index, index + len(self))):
            if self.unreadable[candidate]:
                continue
            try:
                image = load_image(self.paths[candidate])
            except ImageLoadError as exc:
                self.unreadable[candidate] = True
                print(f"warning: skipping training image {exc}", file=sys.stderr, flush=True)
                continue
            return self._sample(candidate, image)
        raise InputError(self.paths[index].parent, "no training image can be read")

    def _sample(self, index: int, image: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        record = self.images[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        aug = self.augment
        factor = rng.uniform(*aug.scale) if aug else 1.0
        pixels, transform = prepare_input(image, max(1, round(self.size * factor)), self.stride)
        people = annotations_to_input(self.anns[record["id"]], transform, image.shape[:2])
        if aug:
            rh, rw = transform.resized_hw
            _jitter(pixels[:, :rh, :rw], aug, rng)
        offset = _random_offset(pixels.shape[1:], self.size, rng) if aug else (0, 0)
        pixels, people = _place(pixels, people, offset, self.size)
        if aug and rng.random() < aug.flip:
            pixels, people = _flip(pixels, people)
        targets = build_targets(people.keypoints, people.masks, people.crowd, pixels.shape[1:],
                                self.stride, unannotated_masks=people.unannotated)
        if not self.labelled:
            targets["keypoint_ignore"][:] = 1.0
            targets["segmentation_ignore"][:] = 1.0
        return torch.from_numpy(np.ascontiguousarray(pixels)), {
            name: torch.from_numpy(value) for name, value in targets.items()}


class UnlabeledImages(CocoPersonDataset):
    """The images of a folder without ground truth (for distillation): augmented like
    ``CocoPersonDataset``, every ground-truth target ignored."""

    labelled = False

    def __init__(self, image_dir: str | Path, input_size: int = 401, train: bool = True,
                 augment: Augment | None = None, seed: int = 0, stride: int = 16) -> None:
        self._set_sampling(input_size, train, augment, seed, stride)
        if not Path(image_dir).is_dir():
            raise InputError(image_dir, "no such images folder")
        self.paths = list_images([image_dir])
        self.images = [{"id": i, "file_name": p.name} for i, p in enumerate(self.paths)]
        self.anns = defaultdict(list)
        self.unreadable = torch.zeros(len(self.images), dtype=torch.bool).share_memory_()


def _random_offset(hw: tuple[int, int], size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (y, x) of the S x S window in the prepared image; negative: padding first."""
    return tuple(int(rng.integers(0, n - size + 1)) if n >= size else -int(rng.integers(0, size - n + 1))
                 for n in hw)


def _window(array: np.ndarray, offset: tuple[int, int], size: int) -> np.ndarray:
    """The S x S window at ``offset`` of the last two axes, zero outside ``array``."""
    out = np.zeros((*array.shape[:-2], size, size), dtype=array.dtype)
    (oy, ox), (h, w) = offset, array.shape[-2:]
    sy, sx = max(oy, 0), max(ox, 0)
    ey, ex = min(oy + size, h), min(ox + size, w)
    if ey > sy and ex > sx:
        out[..., sy - oy:ey - oy, sx - ox:ex - ox] = array[..., sy:ey, sx:ex]
    return out


def _place(pixels: np.ndarray, people: InputAnnotations, offset: tuple[int, int],
           size: int) -> tuple[np.ndarray, InputAnnotations]:
    """Crop/pad image and annotations to the S x S window at ``offset`` (y, x)."""
    keypoints = people.keypoints.copy()
    keypoints[:, :, :2] -= np.array(offset[::-1], dtype=np.float32)
    return _window(pixels, offset, size), InputAnnotations(
        keypoints, _window(people.masks, offset, size), _window(people.crowd, offset, size),
        _window(people.unannotated, offset, size))


def _flip(pixels: np.ndarray, people: InputAnnotations) -> tuple[np.ndarray, InputAnnotations]:
    """Mirror the whole input horizontally; left and right keypoints swap types."""
    keypoints = people.keypoints[:, FLIP_PERMUTATION].copy()
    keypoints[:, :, 0] = pixels.shape[-1] - 1 - keypoints[:, :, 0]
    return pixels[..., ::-1], InputAnnotations(
        keypoints, people.masks[..., ::-1], people.crowd[..., ::-1], people.unannotated[..., ::-1])


def _jitter(pixels: np.ndarray, aug: Augment, rng: np.random.Generator) -> None:
    """Brightness, contrast and saturation jitter of image content in place, clipped to [-1, 1]."""
    gray = pixels.mean(axis=0, keepdims=True)
    pixels[:] = gray + (pixels - gray) * (1.0 + rng.uniform(-aug.saturation, aug.saturation))
    mean = pixels.mean()
    pixels[:] = mean + (pixels - mean) * (1.0 + rng.uniform(-aug.contrast, aug.contrast))
    pixels += rng.uniform(-aug.brightness, aug.brightness)
    np.clip(pixels, -1.0, 1.0, out=pixels)
