"""Image files in, RGB arrays out: robust decoding, folder listing and safe path joining.

``load_image`` always returns an ``(H, W, 3)`` uint8 RGB array as the image is *displayed*:

* EXIF orientation is applied; a corrupt EXIF block is ignored.
* Transparency (RGBA, LA, PA, palette or tRNS) is composited onto **white**, then dropped.
* Grayscale, bilevel, palette, CMYK and YCbCr are converted to RGB.
* 16-bit images are scaled (65535 -> 255), never clipped; float images are taken as
  intensities in [0, 1]. (Pillow reads 16-bit colour PNG/TIFF as their high bytes.)
* Images over ``MAX_PIXELS`` are refused from their header, before any pixel is decoded.

Every failure is an ``ImageLoadError`` with a one-line ``"<path>: <reason>"`` message, and
no Pillow warning (DecompressionBombWarning, corrupt EXIF...) is ever printed.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError, InputError, first_line

#: Largest accepted image, in pixels (Pillow's own decompression-bomb error limit, ~179 MP).
MAX_PIXELS = 178_956_970

#: Suffixes (lower case) that ``list_images`` picks up in folders.
IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm",
})

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as displayed: ``(H, W, 3)`` uint8 RGB (see the module docstring).

    Files over ``max_pixels`` pixels are refused from their header alone.
    """
    path = Path(path)
    _check_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as im:
                _check_size(path, im.size, max_pixels)
                im.load()
                return _to_rgb(_apply_orientation(im))
        except ImageLoadError:
            raise
        except Image.DecompressionBombError as exc:  # Pillow's own limit, met while opening
            raise ImageLoadError(path, f"image too large ({first_line(exc, 120).split(',')[0]})") from None
        except UnidentifiedImageError:
            raise ImageLoadError(path, "not an image, or an unsupported image format") from None
        except PermissionError:
            raise ImageLoadError(path, "permission denied") from None
        except Exception as exc:  # Pillow raises many exception types on damaged files
            raise ImageLoadError(path, f"corrupt or truncated image ({first_line(exc, 120)})") from None


#: errno -> the problem as the user reads it, for paths that cannot even be looked at.
_PATH_PROBLEMS = {
    errno.ENOENT: "file not found", errno.ENOTDIR: "file not found",
    errno.ELOOP: "symbolic link loop", errno.ENAMETOOLONG: "file name too long",
    errno.EACCES: "permission denied", errno.EPERM: "permission denied",
}


def _path_problem(exc: OSError) -> str:
    return _PATH_PROBLEMS.get(exc.errno, exc.strerror or type(exc).__name__)


def _check_file(path: Path) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        raise ImageLoadError(path, _path_problem(exc)) from None
    except ValueError:  # an embedded NUL byte
        raise ImageLoadError(path, "not a valid file name") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(path, "is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageLoadError(path, "not a regular file (a device, FIFO or socket)")
    if st.st_size == 0:
        raise ImageLoadError(path, "empty file")


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageLoadError(path, f"image too large ({width} x {height}; the limit is "
                                   f"{max_pixels / 1e6:.0f} megapixels)")


def _apply_orientation(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block must not make a decodable image unreadable
        return im


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT_MODES:
        gray = np.clip(np.asarray(im, dtype=np.float64), 0, 65535) / 257.0
        return _gray_to_rgb(gray)
    if im.mode == "F":
        gray = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0) * 255.0
        return _gray_to_rgb(gray)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        im = _composite_on_white(im)
    return np.array(im.convert("RGB"), dtype=np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    gray8 = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(gray8[:, :, None], 3, axis=2)


def _composite_on_white(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def list_images(paths: Iterable[str | os.PathLike], recursive: bool = False) -> list[Path]:
    """Files as given; folders expanded to their image files (sorted, hidden files skipped).

    A file given twice (by any spelling or link) is listed once, at its first place; a
    folder that cannot be listed raises ``InputError``.
    """
    found: dict[object, Path] = {}
    for path in map(Path, paths):
        for file in _folder_images(path, recursive) if _is_dir(path) else [path]:
            found.setdefault(_file_key(file), file)
    return list(found.values())


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _file_key(path: Path) -> object:
    """What makes two paths the same file: device and inode, else the normalised path."""
    try:
        st = path.stat()
        return st.st_dev, st.st_ino
    except (OSError, ValueError):
        return os.path.normpath(os.path.abspath(path))


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    try:
        candidates = list(folder.rglob("*") if recursive else folder.iterdir())
    except OSError as exc:
        raise InputError(folder, f"cannot list the folder: {_path_problem(exc)}") from None
    return sorted(p for p in candidates
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def printable(path: str | os.PathLike) -> str:
    """``path`` as text any stream can print: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def safe_join(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``root / relative``, refusing absolute paths, '..' and symlinks that leave ``root``."""
    text = os.fspath(relative)
    if not text:
        raise InputError(text, "empty path")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor:
        raise InputError(text, f"absolute path not allowed here (must be inside {root})")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise InputError(text, f"'..' not allowed in the path (must stay inside {root})")
    joined = Path(root) / text
    if not joined.resolve().is_relative_to(Path(root).resolve()):
        raise InputError(text, f"resolves outside {root} (through a symbolic link)")
    return joined
