"""load_image on odd and broken files, list_images, safe_join, and the error messages."""

import pickle
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from personlab_gui.core.errors import ImageLoadError, InputError
from personlab_gui.core.data.image_io import list_images, load_image, safe_join

ASTRONAUT = Path(__file__).resolve().parents[3] / "personlab_gui" / "data" / "astronaut.jpg"


def _load_error(path: Path, **kwargs) -> str:
    """The message of the ImageLoadError raised for ``path``, checked to be one line naming it."""
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG that only *declares* width x height (8-bit gray), with a tiny pixel stream."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_real_jpeg_is_rgb_uint8():
    image = load_image(ASTRONAUT)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 tall; red top-left corner
    stored[:5, :5] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path)
    assert image.shape == (40, 20, 3)
    assert tuple(image[1, 18]) > (200, 0, 0) and image[1, 18, 1] < 60  # now the top-right corner
    assert image[38, 1].max() < 60


def test_grayscale_palette_and_alpha_modes(tmp_path):
    gray = np.array([[0, 100], [200, 255]], np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    assert np.array_equal(load_image(tmp_path / "gray.png"), np.repeat(gray[:, :, None], 3, axis=2))

    rgba = np.array([[[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 128]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = load_image(tmp_path / "rgba.png")
    assert image.shape == (1, 3, 3)
    assert tuple(image[0, 0]) == (255, 255, 255)          # transparent -> white
    assert tuple(image[0, 1]) == (255, 0, 0)
    assert np.allclose(image[0, 2], (127, 127, 255), atol=1)

    Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), "LA").save(tmp_path / "la.png")
    assert np.array_equal(load_image(tmp_path / "la.png")[..., 0], gray)

    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "palette.png", transparency=0)
    assert load_image(tmp_path / "palette.png").tolist() == [[[255, 255, 255], [10, 200, 30]]]


def test_cmyk_jpeg(tmp_path):
    rgb = load_image(ASTRONAUT)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    image = load_image(tmp_path / "cmyk.jpg")
    assert image.shape == rgb.shape and np.abs(image.astype(int) - rgb).mean() < 3


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    gray16 = np.array([[0, 257 * 128, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "gray16.png"), gray16)
    assert load_image(tmp_path / "gray16.png")[0, :, 0].tolist() == [0, 128, 255]
    color16 = np.dstack([gray16, gray16, gray16])
    cv2.imwrite(str(tmp_path / "color16.png"), color16)
    assert load_image(tmp_path / "color16.png")[0, :, 0].tolist() == [0, 128, 255]


def test_float_tiff(tmp_path):
    cv2.imwrite(str(tmp_path / "float.tif"), np.array([[0.0, 0.5, 1.0]], np.float32))
    assert load_image(tmp_path / "float.tif")[0, :, 1].tolist() == [0, 128, 255]


def test_truncated_jpeg(tmp_path):
    data = ASTRONAUT.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _load_error(path)


@pytest.mark.parametrize("name, content, reason", [
    ("notes.jpg", b"this is a text file, not a JPEG\n", "not an image"),
    ("empty.png", b"", "empty file"),
])
def test_not_an_image(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    assert reason in _load_error(path)


def test_missing_file_and_folder(tmp_path):
    assert "not found" in _load_error(tmp_path / "missing.jpg")
    assert "folder" in _load_error(tmp_path)


def test_huge_image_refused_from_header_without_warnings(tmp_path, recwarn, monkeypatch):
    path = tmp_path / "huge.png"
    _png_header(path, 20000, 20000)
    assert "too large" in _load_error(path)                     # Pillow's bomb check
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert "too large (20000 x 20000;" in _load_error(path)     # ours, before decoding
    monkeypatch.undo()
    _png_header(path, 10000, 10000)                             # Pillow only warns here
    assert "too large" in _load_error(path, max_pixels=50_000_000)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_list_images(tmp_path):
    for name in ("b.PNG", "a.jpg", "notes.txt", ".hidden.jpg", "sub/c.jpeg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    given = tmp_path / "notes.txt"
    assert list_images([tmp_path, given]) == [tmp_path / "a.jpg", tmp_path / "b.PNG", given]
    assert list_images([str(tmp_path)], recursive=True) == [
        tmp_path / "a.jpg", tmp_path / "b.PNG", tmp_path / "sub" / "c.jpeg"]


def test_safe_join(tmp_path):
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    assert safe_join(root, "images/a.jpg") == root / "images" / "a.jpg"
    (root / "escape").symlink_to(tmp_path)
    for bad, reason in [("../secret.jpg", "'..'"), ("images/../../x.jpg", "'..'"),
                        ("/etc/passwd", "absolute"), ("escape/x.jpg", "outside"), ("", "empty")]:
        with pytest.raises(InputError, match=reason) as info:
            safe_join(root, bad)
        assert str(info.value).startswith(f"{bad}: ") and "\n" not in str(info.value)


def test_errors_are_one_line_and_picklable():
    error = ImageLoadError("dir/a.jpg", "broken\nin two lines")
    assert str(error) == "dir/a.jpg: broken in two lines"
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, ImageLoadError) and str(copy) == str(error) and copy.path == "dir/a.jpg"
