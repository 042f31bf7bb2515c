"""Image reading, grayscale conversion, quantisation and atomic file writes.

Conventions (see ``../shared/reference/README.md``):

* Images are read *as stored*: 8-bit grayscale ``(H, W)`` or colour ``(H, W, 3)`` uint8.
  A 3-channel image whose channels are all equal is returned as its one channel only when
  ``collapse_gray=True``.
* Colour becomes gray as MATLAB's ``rgb2gray`` on uint8:
  ``floor(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B + 0.5)``.
* Methods return float64 on 0..255; the store saves ``uint8(clip(floor(x + 0.5), 0, 255))``
  (round half up, as MATLAB's uint8 conversion for non-negative values).
* Every write goes to a temporary file in the same folder, is fsynced and renamed into place,
  so a reader never sees a partial file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError

RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")


def _fail(path: os.PathLike | str, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


def read_image(path: os.PathLike | str, *, collapse_gray: bool = False) -> np.ndarray:
    """Read an image file as stored.

    Returns uint8 ``(H, W)`` or ``(H, W, 3)``. 16-bit images are scaled to 8 bits
    (``round(x / 257)``) with a warning; float images (``.npy``, float TIFF) must be finite
    and lie in 0..255 and are returned as float64. Any other problem (missing, unreadable,
    truncated, zero-size, non-image, 4-channel with alpha dropped) raises :class:`InputError`
    naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise _fail(p, "file not found")
    if p.is_dir():
        raise _fail(p, "is a folder, not an image")
    if not os.access(p, os.R_OK):
        raise _fail(p, "permission denied (file not readable)")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - report any decoder failure as one line
            raise _fail(p, f"unreadable .npy file ({exc.__class__.__name__})") from None
    else:
        arr = _read_with_pillow(p)
    return _normalise_array(arr, p, collapse_gray=collapse_gray)


def _read_with_pillow(p: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "PA", "LA", "RGBA", "CMYK", "YCbCr", "1"):
                im = im.convert("RGB" if mode not in ("LA", "1") else "L")
            arr = np.array(im)
    except UnidentifiedImageError:
        raise _fail(p, "not an image file (unrecognised format)") from None
    except PermissionError:
        raise _fail(p, "permission denied (file not readable)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _fail(p, f"corrupt or truncated image ({exc})") from None
    return arr


def _normalise_array(arr: np.ndarray, p: Path | str, *, collapse_gray: bool) -> np.ndarray:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise _fail(p, f"unsupported image shape {arr.shape} (expected HxW or HxWx3)")
    if arr.size == 0 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _fail(p, f"zero-size image {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and arr.max(initial=0) > 255):
        warnings.warn(f"{p}: 16-bit image scaled to 8 bits (round(x/257))", stacklevel=3)
        out = np.floor(arr.astype(np.float64) / 257.0 + 0.5).clip(0, 255).astype(np.uint8)
    elif arr.dtype.kind in "iub":
        out = arr.astype(np.uint8)
    elif arr.dtype.kind == "f":
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise _fail(p, "contains NaN or infinite values")
        if out.min() < 0 or out.max() > 255:
            raise _fail(p, f"float image outside 0..255 (range {out.min():.4g}..{out.max():.4g})")
    else:
        raise _fail(p, f"unsupported pixel type {arr.dtype}")
    if collapse_gray and out.ndim == 3 and is_gray_rgb(out):
        out = out[:, :, 0]
    return np.ascontiguousarray(out)


def is_gray_rgb(img: np.ndarray) -> bool:
    """True for an ``(H, W, 3)`` image whose three channels are identical."""
    return img.ndim == 3 and bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())


def rgb2gray(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` for uint8 colour (rounded, returned as uint8); gray passes through.

    Float input (0..255) is converted without rounding and returned as float64.
    """
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"rgb2gray: expected HxWx3, got shape {img.shape}")
    if is_gray_rgb(img):
        return img[..., 0]
    g = img.astype(np.float64) @ RGB2GRAY
    if img.dtype == np.uint8:
        return np.floor(g + 0.5).clip(0, 255).astype(np.uint8)
    return g


def to_gray_float(img: np.ndarray) -> np.ndarray:
    """Grayscale float64 on 0..255 (MATLAB rgb2gray for colour)."""
    return np.asarray(rgb2gray(np.asarray(img)), dtype=np.float64)


def quantize(x: np.ndarray) -> np.ndarray:
    """float64 0..255 -> uint8 with round half up and clipping: ``clip(floor(x + 0.5), 0, 255)``."""
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise InputError("fused image contains NaN or infinite values")
    return np.floor(x + 0.5).clip(0, 255).astype(np.uint8)


def array_digest(*arrays: np.ndarray) -> str:
    """SHA-256 of arrays' shapes, dtypes and bytes (for cache keys)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: os.PathLike | str, text: str) -> None:
    """Atomic UTF-8 text write (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(img: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 gray or RGB image."""
    import cv2

    if img.dtype != np.uint8:
        raise InputError(f"encode_png expects uint8, got {img.dtype}")
    arr = img if img.ndim == 2 else img[..., ::-1]
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise InputError("PNG encoding failed")
    return buf.tobytes()


def write_png(path: os.PathLike | str, img: np.ndarray) -> None:
    """Atomically save a uint8 image as PNG."""
    atomic_write_bytes(path, encode_png(img))


def check_images(*images: np.ndarray, names: tuple[str, ...] = ("ir", "vi", "fused"),
                 who: str = "metric", gray: bool = True) -> list[np.ndarray]:
    """Validate metric/method inputs loudly and return them as float64 arrays.

    Checks: array-like, non-empty, 2-D (or ``HxWx3`` when ``gray=False``), equal height and
    width, finite, within 0..255. Raises :class:`InputError` (a ``ValueError``) naming the
    offending argument.
    """
    out = []
    shape = None
    for name, img in zip(names, images):
        a = np.asarray(img)
        if a.dtype.kind not in "biuf":
            raise InputError(f"{who}: {name} has unsupported dtype {a.dtype}")
        if a.size == 0:
            raise InputError(f"{who}: {name} is empty (shape {a.shape})")
        ok_ndim = a.ndim == 2 or (not gray and a.ndim == 3 and a.shape[2] == 3)
        if not ok_ndim:
            raise InputError(f"{who}: {name} must be {'2-D gray' if gray else 'HxW or HxWx3'}, got shape {a.shape}")
        a = a.astype(np.float64, copy=False)
        if not np.isfinite(a).all():
            raise InputError(f"{who}: {name} contains NaN or infinite values")
        if a.min() < 0 or a.max() > 255:
            raise InputError(f"{who}: {name} is outside 0..255 (range {a.min():.4g}..{a.max():.4g}); "
                             "images are expected on the 8-bit scale")
        if shape is not None and a.shape[:2] != shape:
            raise InputError(f"{who}: size mismatch: {names[0]} is {shape[1]}x{shape[0]}, "
                             f"{name} is {a.shape[1]}x{a.shape[0]}")
        shape = a.shape[:2]
        out.append(a)
    return out
