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
  so a reader never sees a partial file; the file then has mode ``0o666 & ~umask``.
* Reading refuses, or converts with a warning saying exactly what was done, anything that could
  be misread (see :func:`read_image` for the policy: float range, bit depth, alpha, frames, size).
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError

RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".npy")

#: default pixel limit of every format (``.npy`` included): Pillow's decompression-bomb limit
DEFAULT_MAX_MEGAPIXELS = 2 * 89_478_485 / 1e6
FLOAT_RANGES = (1.0, 255.0)


def _fail(path: os.PathLike | str, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


def _warn(path: os.PathLike | str, what: str) -> None:
    warnings.warn(f"{path}: {what}", UserWarning, stacklevel=4)


def image_shape(path: os.PathLike | str) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header only (no pixel data is decoded).

    ``.npy`` files are opened with ``mmap_mode='r'``; other formats with Pillow (header only).
    Raises :class:`InputError` naming the file when it cannot be read.
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise _fail(p, f"unreadable .npy file ({exc.__class__.__name__})") from None
        shape = arr.shape
        del arr
        if len(shape) < 2:
            raise _fail(p, f"unsupported image shape {shape} (expected HxW or HxWx3)")
        return int(shape[0]), int(shape[1])
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # header only: the size is what we want to know
    try:
        with Image.open(p) as im:
            return im.size[1], im.size[0]
    except Exception as exc:  # noqa: BLE001
        raise _fail(p, f"not a readable image ({exc.__class__.__name__})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _check_pixels(p: Path, h: int, w: int, max_megapixels: float | None) -> None:
    limit = DEFAULT_MAX_MEGAPIXELS if max_megapixels is None else float(max_megapixels)
    mp = h * w / 1e6
    if mp > limit:
        raise _fail(p, f"image of {w}x{h} pixels ({mp:.1f} megapixels) exceeds the limit of "
                       f"{limit:.1f} megapixels; pass --max-megapixels {int(mp) + 1} to read it anyway")


def read_image(path: os.PathLike | str, *, collapse_gray: bool = False, float_range: float | None = None,
               max_megapixels: float | None = None) -> np.ndarray:
    """Read an image file as stored, refusing or converting (with a warning) anything ambiguous.

    Returns uint8 ``(H, W)`` or ``(H, W, 3)``, or float64 for float files. Policy:

    * **float** (``.npy``, float TIFF): must be finite. ``float_range=None`` (default) takes values
      on 0..255 but *refuses* an image whose maximum is <= 1 (is it 0..1 data?): pass
      ``float_range=1`` (CLI ``--float-range 1``) to scale 0..1 by 255, or ``float_range=255`` to
      take such an image as it is.
    * **more than 8 bits** (16-bit PNG/TIFF, ``uint16``/``int32`` ``.npy``), by the actual maximum
      ``M``: ``M <= 255`` -> values taken as 8-bit unchanged; ``M <= 4095`` -> 12-bit data,
      ``round(x * 255 / 4095)``; else 16-bit, ``round(x / 257)``. Each with a warning saying which.
      Values above 65535 are refused. (The choice is per file: a dark 16-bit frame whose maximum
      happens to be <= 4095 is scaled as 12-bit; the warning says so.)
    * **signed integers with negative values** are refused (they would wrap); boolean images
      become 0/255 with a warning.
    * **alpha**: a fully opaque alpha channel is dropped (nothing is lost); any transparency is
      refused (flatten the image first).
    * **animated / multipage files** (GIF, TIFF, WebP with several frames) are refused.
    * **size**: images above ``max_megapixels`` (default: Pillow's decompression-bomb limit,
      about 179 MP, for every format, ``.npy`` included; checked from the header before the
      pixels are loaded) are refused.

    Any other problem (missing, unreadable, truncated, zero-size, non-image) raises
    :class:`InputError` naming the file.
    """
    p = Path(path)
    if float_range is not None and float(float_range) not in FLOAT_RANGES:
        raise InputError(f"--float-range must be 1 or 255, got {float_range!r}")
    if not p.exists():
        raise _fail(p, "file not found")
    if p.is_dir():
        raise _fail(p, "is a folder, not an image")
    if not os.access(p, os.R_OK):
        raise _fail(p, "permission denied (file not readable)")
    if p.suffix.lower() == ".npy":
        h, w = image_shape(p)
        _check_pixels(p, h, w, max_megapixels)
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - report any decoder failure as one line
            raise _fail(p, f"unreadable .npy file ({exc.__class__.__name__})") from None
    else:
        arr = _read_with_pillow(p, max_megapixels)
    return _normalise_array(arr, p, collapse_gray=collapse_gray, float_range=float_range)


def _read_with_pillow(p: Path, max_megapixels: float | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own limit (below) replaces Pillow's, for every format alike
    try:
        with Image.open(p) as im:
            _check_pixels(p, im.size[1], im.size[0], max_megapixels)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                raise _fail(p, f"has {frames} frames (animated or multipage file); save the frame "
                               "you mean as a single-frame image")
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("PA", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGBA" if mode == "PA" else "RGB")
            elif mode == "1":
                im = im.convert("L")
            elif mode == "La":
                im = im.convert("LA")
            elif mode == "RGBa":
                im = im.convert("RGBA")
            arr = np.array(im)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise _fail(p, "not an image file (unrecognised format)") from None
    except PermissionError:
        raise _fail(p, "permission denied (file not readable)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _fail(p, f"corrupt or truncated image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    return arr


def _drop_alpha(arr: np.ndarray, p: Path | str) -> np.ndarray:
    alpha = arr[:, :, -1]
    opaque = np.iinfo(arr.dtype).max if arr.dtype.kind in "iu" else 1.0
    if arr.dtype == np.bool_ or not (alpha == opaque).all():
        raise _fail(p, "has transparency (alpha channel not fully opaque); flatten it onto a "
                       "background and save it without alpha")
    return arr[:, :, :-1]


def _normalise_array(arr: np.ndarray, p: Path | str, *, collapse_gray: bool,
                     float_range: float | None = None) -> np.ndarray:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise _fail(p, f"unsupported image shape {arr.shape} (expected HxW or HxWx3)")
    if arr.size == 0 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _fail(p, f"zero-size image {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        arr = _drop_alpha(arr, p)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        _warn(p, "boolean image converted to 0/255")
        out = arr.astype(np.uint8) * 255
    elif arr.dtype.kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise _fail(p, f"signed integer image with negative values (range {lo}..{hi}); "
                           "rescale it to 0..255 (or 0..65535) first")
        if hi > 65535:
            raise _fail(p, f"integer values up to {hi} exceed 16 bits; rescale it to 0..255 first")
        if hi <= 255:
            if arr.dtype.itemsize > 1:
                _warn(p, f"{8 * arr.dtype.itemsize}-bit image holds values <= 255 only (max {hi}): "
                         "taken as 8-bit values unchanged")
            out = arr.astype(np.uint8)
        elif hi <= 4095:
            _warn(p, f"16-bit image holds 12-bit data (max {hi} <= 4095): scaled to 8 bits "
                     "with round(x*255/4095)")
            out = np.floor(arr.astype(np.float64) * (255.0 / 4095.0) + 0.5).clip(0, 255).astype(np.uint8)
        else:
            _warn(p, "16-bit image scaled to 8 bits (round(x/257))")
            out = np.floor(arr.astype(np.float64) / 257.0 + 0.5).clip(0, 255).astype(np.uint8)
    elif arr.dtype.kind == "f":
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise _fail(p, "contains NaN or infinite values")
        lo, hi = float(out.min()), float(out.max())
        scale = 255.0 if float_range is None else float(float_range)
        if lo < 0 or hi > scale:
            raise _fail(p, f"float image outside 0..{scale:g} (range {lo:.4g}..{hi:.4g})")
        if float_range is None and hi <= 1.0:
            raise _fail(p, f"float image with values in 0..1 only (max {hi:.4g}): pass --float-range 1 "
                           "if its scale is 0..1, or --float-range 255 to take it as 0..255")
        if scale == 1.0:
            out = out * 255.0
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


def current_umask() -> int:
    """The process umask (read from ``/proc/self/status`` where possible, without changing it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _output_error(exc: OSError, p: Path) -> OutputError:
    import errno

    where = exc.filename or p
    why = {errno.ENOSPC: "disk full (no space left on device)", errno.EROFS: "read-only filesystem",
           errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
           errno.ENOTDIR: "a path component is a file, not a folder",
           errno.EEXIST: "a file exists where a folder is needed",
           errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, exc.strerror or str(exc) or exc.__class__.__name__)
    return OutputError(f"cannot write {p}: {why} ({where})")


def atomic_write_bytes(path: os.PathLike | str, data: bytes, *, make_parents: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    The file gets mode ``0o666 & ~umask`` (as ``open()`` would give it; the temporary file's
    private 0600 does not survive the rename); folders created on the way get ``0o777 & ~umask``.
    With ``make_parents=False`` a missing folder is an error. Any OS failure (disk full,
    read-only filesystem, permission, a file in the way) raises a one-line :class:`OutputError`
    and leaves no temporary file behind.
    """
    p = Path(path)
    try:
        if make_parents:
            p.parent.mkdir(parents=True, exist_ok=True)
        elif not p.parent.is_dir():
            raise OutputError(f"cannot write {p}: folder {p.parent} does not exist (create it first)")
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise _output_error(exc, p) from None
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _output_error(exc, p) from None
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


class Trusted:
    """The arrays of one :func:`validated` block: checked once, converted to float64 once.

    Arrays are recognised by identity (``is``), never by value, and held until the block ends
    (so no id is reused meanwhile). :meth:`float64` gives each trusted non-float64 array's
    float64 conversion, made once per block and read-only (every metric then shares it, as
    metrics on gray inputs already share the float64 arrays); :meth:`uint8_twin` the exact uint8
    array a trusted float64 array was converted from, where one is known (histogram metrics
    count the uint8 levels directly: same counts, no rounding pass).
    """

    __slots__ = ("_ids", "_f64", "_u8")

    def __init__(self, parent: Trusted | None = None) -> None:
        self._ids: dict[int, np.ndarray] = dict(parent._ids) if parent else {}
        self._f64: dict[int, tuple[np.ndarray, np.ndarray]] = dict(parent._f64) if parent else {}
        self._u8: dict[int, tuple[np.ndarray, np.ndarray]] = dict(parent._u8) if parent else {}

    def add(self, *arrays: np.ndarray) -> None:
        """Trust these exact array objects (already checked finite and within 0..255)."""
        for a in arrays:
            self._ids[id(a)] = a

    def trusts(self, a: np.ndarray) -> bool:
        return self._ids.get(id(a)) is a

    def add_float64(self, src: np.ndarray, f64: np.ndarray) -> None:
        """Record ``f64`` (float64, equal to ``src.astype(float64)``) as the conversion of ``src``."""
        self.add(src, f64)
        self._f64[id(src)] = (src, f64)
        if src.dtype == np.uint8:
            self._u8[id(f64)] = (f64, src)

    def float64(self, a: np.ndarray) -> np.ndarray:
        """``a.astype(np.float64)`` of a trusted array, computed once per block (read-only)."""
        hit = self._f64.get(id(a))
        if hit is not None and hit[0] is a:
            return hit[1]
        out = a.astype(np.float64)
        out.flags.writeable = False
        self.add_float64(a, out)
        return out

    def uint8_twin(self, a: np.ndarray) -> np.ndarray | None:
        hit = self._u8.get(id(a))
        return hit[1] if hit is not None and hit[0] is a else None


_VALIDATED: contextvars.ContextVar[Trusted | None] = contextvars.ContextVar("fusionbench_validated", default=None)


@contextlib.contextmanager
def validated(*arrays: np.ndarray) -> Iterator[Trusted]:
    """Within the block, :func:`check_images` trusts these exact array objects (already checked).

    :func:`fusionbench.evaluate` validates and converts the image triple once, then scores every
    metric on the same arrays; the metrics' own :func:`check_images` calls then cost nothing for
    them, and a trusted array that is not float64 is converted to float64 once for the whole
    block (:class:`Trusted`). Only the identical objects (``is``) are trusted, never views or
    copies. Yields the block's :class:`Trusted` (``.add`` trusts more arrays).
    """
    trusted = Trusted(_VALIDATED.get())
    trusted.add(*arrays)
    token = _VALIDATED.set(trusted)
    try:
        yield trusted
    finally:
        _VALIDATED.reset(token)


def trusted_block() -> Trusted | None:
    """The innermost :func:`validated` block's :class:`Trusted`, or None outside any block."""
    return _VALIDATED.get()


def uint8_twin(a: np.ndarray) -> np.ndarray | None:
    """The uint8 image that float64 ``a`` is the exact conversion of, when a :func:`validated`
    block knows it (``evaluate`` on 8-bit images), else None. ``twin.astype(float64)`` equals
    ``a`` element for element."""
    t = _VALIDATED.get()
    return None if t is None else t.uint8_twin(a)


def _check_values(a: np.ndarray, name: str, who: str) -> None:
    """Finite and within 0..255 (two reductions; NaN fails the range test, so one more pass
    only on the error path, to name the problem)."""
    if a.dtype == np.uint8 or a.dtype == np.bool_:
        return
    mn, mx = a.min(), a.max()
    if mn >= 0 and mx <= 255:
        return
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError(f"{who}: {name} contains NaN or infinite values")
    raise InputError(f"{who}: {name} is outside 0..255 (range {float(mn):.4g}..{float(mx):.4g}); "
                     "images are expected on the 8-bit scale")


def check_images(*images: np.ndarray, names: tuple[str, ...] = ("ir", "vi", "fused"),
                 who: str = "metric", gray: bool = True, convert: bool = True) -> list[np.ndarray]:
    """Validate metric/method inputs loudly and return them as float64 arrays.

    Checks: array-like, non-empty, 2-D (or ``HxWx3`` when ``gray=False``), equal height and
    width, finite, within 0..255. Raises :class:`InputError` (a ``ValueError``) naming the
    offending argument. Arrays that are already float64 are returned as they are (no copy);
    arrays trusted by :func:`validated` skip the value checks, and their float64 conversion is
    made once per block (shared, read-only). ``convert=False`` returns the inputs as given
    (validation only).
    """
    out = []
    shape = None
    trusted = _VALIDATED.get()
    for name, img in zip(names, images):
        a = np.asarray(img)
        if a.dtype.kind not in "biuf":
            raise InputError(f"{who}: {name} has unsupported dtype {a.dtype}")
        if a.size == 0:
            raise InputError(f"{who}: {name} is empty (shape {a.shape})")
        ok_ndim = a.ndim == 2 or (not gray and a.ndim == 3 and a.shape[2] == 3)
        if not ok_ndim:
            raise InputError(f"{who}: {name} must be {'2-D gray' if gray else 'HxW or HxWx3'}, got shape {a.shape}")
        known = trusted is not None and trusted.trusts(a)
        if not known:
            _check_values(a, name, who)
        if convert and a.dtype != np.float64:
            a = trusted.float64(a) if known else a.astype(np.float64)
        if shape is not None and a.shape[:2] != shape:
            raise InputError(f"{who}: size mismatch: {names[0]} is {shape[1]}x{shape[0]}, "
                             f"{name} is {a.shape[1]}x{a.shape[0]}")
        shape = a.shape[:2]
        out.append(a)
    return out


def pil_gray(raw: np.ndarray) -> np.ndarray:
    """PIL ``Image.convert('L')``: ``(19595 R + 38470 G + 7471 B + 32768) >> 16`` (uint8); gray passes."""
    a = np.asarray(raw)
    if a.ndim == 2:
        return a
    if a.dtype != np.uint8:
        a = np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)
    c = a.astype(np.uint32)
    return ((c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)
