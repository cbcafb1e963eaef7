"""Image validation and normalisation: decode, check, resize, hash. Pure (no Beam).

Pillow parses the header (format, size, mode, EXIF orientation) without decoding pixels, and the
checks that need only the header (decompression bomb, format) run before any decoding. OpenCV
then decodes JPEG (at a reduced DCT scale when the stored size allows) and WebP, imagecodecs
decodes PNG, and OpenCV resizes and encodes every image: on the fetch benchmark's images
OpenCV is ~1.5x faster than Pillow for JPEG, imagecodecs ~1.45x faster than OpenCV for PNG
(docs/benchmarks.md), and both release the GIL. Files that do not end where their format says
they end (a JPEG without its end-of-image marker, a PNG without IEND), unusual modes (CMYK,
16-bit) and the other formats (GIF's first frame, BMP) are decoded by Pillow, whose full decode
raises on truncated data: a truncated image is rejected, never stored grey.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import math
import typing
import warnings

import cv2
import imagecodecs
import numpy as np
from PIL import Image

from quality_filters.verdict import Verdict

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


RESIZE_MODES = ("keep_ratio", "keep_ratio_largest", "center_crop", "none")

# Parallelism comes from the fetch threads and worker processes; OpenCV's own thread pool on
# top of them would only oversubscribe the cores.
cv2.setNumThreads(1)


@dataclasses.dataclass(frozen=True)
class ImageRules:
    """What an acceptable image is, and how it is stored.

    Resize modes, named as in img2dataset: ``keep_ratio`` (the short side becomes
    ``image_size``), ``keep_ratio_largest`` (the long side does), ``center_crop`` (short side,
    then the centred square), ``none`` (stored re-encoded at full size). Images are never
    enlarged. JPEGs are decoded at a reduced scale (libjpeg's DCT scaling) when the stored size
    allows it, which is most of the decoding cost saved.
    """

    min_side: int = 32
    max_aspect: float = 4.0
    max_pixels: int = 40_000_000  # decompression-bomb limit
    image_size: int = 384
    resize_mode: str = "keep_ratio_largest"
    jpeg_quality: int = 90

    def __post_init__(self):
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode {self.resize_mode!r} is not one of {RESIZE_MODES}")

    def target_scale(self, width: int, height: int) -> float:
        """The scale of the stored image (≤ 1: never enlarged)."""
        if self.resize_mode == "none":
            return 1.0
        side = max(width, height) if self.resize_mode == "keep_ratio_largest" else min(width, height)
        return min(1.0, self.image_size / side)


@dataclasses.dataclass(frozen=True)
class ProcessedImage:
    jpeg: bytes
    format: str
    width: int
    height: int
    sha256: str
    phash: str


# The pixel limit is checked per call from ImageRules (below), from the header before any
# decoding, so Pillow's process-wide limit and its warning are not needed; changing them per
# call would race between the fetch threads. Pillow still refuses > 2x its own default.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


EXIF_ORIENTATION = 0x0112
ROTATED = {5, 6, 7, 8}  # orientations that swap width and height
# EXIF orientation → the operation that displays the stored pixels upright (as exif_transpose).
_ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.flip(cv2.transpose(a), -1),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
_JPEG_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                 (2, cv2.IMREAD_REDUCED_COLOR_2))
_PNG_END = b"IEND\xaeB`\x82"
_OPENCV_MODES = {"JPEG": {"RGB", "L"}, "WEBP": {"RGB", "RGBA"}}


class _Pixels(typing.NamedTuple):
    """Decoded pixels, upright: colour, or premultiplied colour + alpha (4 channels)."""

    array: np.ndarray
    rgb: bool  # colour channels in RGB order (else BGR, OpenCV's)


@dataclasses.dataclass(frozen=True)
class _Header:
    image: Image.Image  # opened, not decoded
    format: str
    orientation: int
    size: tuple[int, int]  # as displayed (after EXIF rotation)


def _header(data: bytes, rules: ImageRules) -> _Header:
    img = Image.open(io.BytesIO(data))  # reads the header only
    w, h = img.size
    if w * h > rules.max_pixels:
        raise Image.DecompressionBombError(
            f"{w}x{h} exceeds the limit of {rules.max_pixels} pixels")
    fmt = img.format or ""
    # A JPEG's EXIF is in its header; PNG's getexif() decodes the whole image to look for an
    # eXIf chunk after the pixels, so only one before them (info["exif"]) is read here.
    if fmt == "JPEG":
        orientation = img.getexif().get(EXIF_ORIENTATION, 1)
    else:
        exif = Image.Exif()
        if "exif" in img.info:
            exif.load(img.info["exif"])
        orientation = exif.get(EXIF_ORIENTATION, 1)
    if not isinstance(orientation, int) or orientation not in range(1, 9):
        orientation = 1
    return _Header(img, fmt, orientation, (h, w) if orientation in ROTATED else (w, h))


def _complete(data: bytes, fmt: str) -> bool:
    """Whether the file ends with its format's end marker (trailing NULs allowed for JPEG)."""
    if fmt == "JPEG":
        return data.rstrip(b"\0").endswith(b"\xff\xd9")
    if fmt == "PNG":
        return data.endswith(_PNG_END)
    return True


def _without_chunk(png: bytes, kind: bytes) -> bytes:
    """``png`` without its ``kind`` chunks before the pixel data. For iCCP: libpng prints a
    warning on stderr for each of the many web PNGs with a malformed colour profile (and
    neither decoder applies profiles), which would flood a crawl's log."""
    pos, parts = 8, [png[:8]]
    while pos + 8 <= len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        chunk = png[pos + 4:pos + 8]
        if chunk == b"IDAT":
            break
        if chunk != kind:
            parts.append(png[pos:pos + 12 + length])
        pos += 12 + length
    parts.append(png[pos:])
    return b"".join(parts)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def _premultiplied(pixels: np.ndarray) -> np.ndarray:
    """Colour times alpha: what resizes correctly (a transparent pixel's hidden colour, often
    black or noise, then weighs nothing in its neighbours' averages)."""
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2mRGBA)  # multiplies the first three by the fourth


def _on_white(pixels: np.ndarray) -> np.ndarray:
    """Premultiplied colour + alpha → colour on a white background, in the same channel order
    (colour is returned as it is). Done after resizing: at full size, on a 2000 px PNG, it had
    cost as much as decoding it."""
    if pixels.shape[2] == 3:
        return pixels
    c1, c2, c3, alpha = cv2.split(pixels)
    white = cv2.bitwise_not(alpha)  # how much of the background shows through
    return cv2.merge([cv2.add(c1, white), cv2.add(c2, white), cv2.add(c3, white)])


def _decode_fast(data: bytes, head: _Header, scale: float) -> _Pixels | None:
    """Decoded by OpenCV (JPEG, WebP) or imagecodecs (PNG); None where neither does (or should)
    decode it, for Pillow to judge."""
    if not _complete(data, head.format):
        return None
    if head.format == "PNG":
        return _decode_png(data, head)
    if head.image.mode not in _OPENCV_MODES.get(head.format, ()):
        return None
    alpha = _has_alpha(head.image)
    flag = cv2.IMREAD_UNCHANGED if alpha else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    if head.format == "JPEG":
        flag = next((f for factor, f in _JPEG_REDUCED if scale * factor <= 1), flag)
        flag |= cv2.IMREAD_IGNORE_ORIENTATION
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if pixels is None or pixels.dtype != np.uint8:
        return None
    return _colour(pixels, head.orientation, rgb=False)


def _decode_png(data: bytes, head: _Header) -> _Pixels | None:
    """A PNG of any colour type decoded by imagecodecs' libpng (palettes expanded, tRNS turned
    into alpha, 16-bit scaled to 8); None on any error, for Pillow to judge."""
    if "icc_profile" in head.image.info:
        data = _without_chunk(data, b"iCCP")
    try:
        pixels = imagecodecs.png_decode(data)
    except imagecodecs.PngError:
        return None
    if pixels.dtype == np.uint16:
        pixels = cv2.convertScaleAbs(pixels, alpha=1 / 257)
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey + alpha
        grey, alpha = cv2.split(pixels)
        pixels = cv2.merge([grey, grey, grey, alpha])
    return _colour(pixels, head.orientation, rgb=True)


def _colour(pixels: np.ndarray, orientation: int, rgb: bool) -> _Pixels:
    """Grey, colour or colour + alpha pixels → colour or premultiplied colour + alpha, upright."""
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    elif pixels.shape[2] == 4:
        pixels = _premultiplied(pixels)
    return _Pixels(_upright(pixels, orientation), rgb)


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    return _ORIENT[orientation](pixels) if orientation in _ORIENT else pixels


def _decode_pillow(head: _Header, scale: float) -> _Pixels:
    """Decoded by Pillow; raises on truncated or broken data."""
    img = head.image
    if scale < 1 and head.format == "JPEG":  # the draft size is in file orientation
        img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
    img.load()  # full decode: truncated files raise here instead of decoding to grey
    pixels = np.asarray(img.convert("RGBA" if _has_alpha(img) else "RGB"))
    return _colour(pixels, head.orientation, rgb=True)


def _decode(data: bytes, head: _Header, scale: float) -> _Pixels:
    return _decode_fast(data, head, scale) or _decode_pillow(head, scale)


def _bgr(pixels: np.ndarray, rgb: bool) -> np.ndarray:
    """BGR for OpenCV's encoder and phash; converted after resizing, where it is cheap."""
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if rgb else pixels


def _resized(pixels: np.ndarray, size: tuple[int, int], rules: ImageRules) -> np.ndarray:
    """``pixels`` at the stored size for an image displayed at ``size``."""
    scale = rules.target_scale(*size)
    target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    if (pixels.shape[1], pixels.shape[0]) != target:
        # Area averaging where the image shrinks more than 2x (a PNG, or a JPEG that could not
        # be decoded reduced enough); bicubic for the ≤ 2x left after a reduced JPEG decode:
        # there it is 5x cheaper than area averaging and closer to a Lanczos resize of the full
        # image (37.9 vs 37.2 dB PSNR on the benchmark's photos).
        shrink = target[0] / pixels.shape[1]
        method = cv2.INTER_CUBIC if shrink >= 0.5 else cv2.INTER_AREA
        pixels = cv2.resize(pixels, target, interpolation=method)
    if rules.resize_mode == "center_crop":
        h, w = pixels.shape[:2]
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        pixels = pixels[top:top + side, left:left + side]
    return pixels


def phash(pixels: np.ndarray) -> str:
    """64-bit pHash (hex) of BGR or grey pixels, as imagehash computes it (DCT of the 32x32 grey
    image, the top-left 8x8 against their median), on the image area-averaged to 32x32.

    Written out rather than calling imagehash: its Python and NumPy steps took ~0.3 ms of
    GIL-held time an image, the most of any step in the fetch stage's threads, and it resizes
    with a full Lanczos filter. The bits equal imagehash.phash's on the same 32x32 image
    (tests/test_quality_filters.py)."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    low = cv2.dct(_grey_32(grey))[:8, :8]
    # cv2.dct is orthonormal; scipy's unnormalised DCT (imagehash's) weighs the first row and
    # column by sqrt(2) more, relative to the rest. Undo that so the median is the same.
    low[0, :] *= _SQRT2
    low[:, 0] *= _SQRT2
    middle = np.sort(low, axis=None)[31:33].mean()  # the median (np.median: 4x the time)
    return np.packbits(low > middle).tobytes().hex()


_SQRT2 = math.sqrt(2)


def _grey_32(grey: np.ndarray) -> np.ndarray:
    """``grey`` area-averaged to 32x32 (float), from its integral image.

    The same means as cv2.resize's INTER_AREA, unrounded: its general path (a ratio such as
    341/32) took 0.16–0.54 ms on stored images, more than their JPEG encode; this takes a
    third to a half of that. The integral image is bilinear inside each pixel, so sampling it
    bilinearly at the 33 x 33 cell corners gives each cell's exact sum."""
    h, w = grey.shape
    total = cv2.integral(grey, sdepth=cv2.CV_32S if h * w < 2**23 else cv2.CV_64F)
    lo, hi, frac = _cell_edges(h)
    rows = total[lo] * (1 - frac)[:, None] + total[hi] * frac[:, None]
    lo, hi, frac = _cell_edges(w)
    corners = rows[:, lo] * (1 - frac) + rows[:, hi] * frac
    sums = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
    return sums * (32 * 32 / (h * w))


@functools.lru_cache(maxsize=4096)
def _cell_edges(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the 33 edges of 32 equal cells fall along ``n`` pixels: (the integral's index
    below, the index above, the fraction between)."""
    edges = np.arange(33) * (n / 32)
    lo = np.minimum(np.floor(edges).astype(np.intp), n - 1)
    return lo, lo + 1, edges - lo


def decode_upright(data: bytes) -> np.ndarray:
    """Any accepted image file → BGR pixels as displayed (EXIF-rotated, on white)."""
    pixels = _decode(data, _header(data, ImageRules(max_pixels=2**62)), 1.0)
    return _bgr(_on_white(pixels.array), pixels.rgb)


def process_image(data: bytes, rules: ImageRules = ImageRules()) -> tuple[Verdict, ProcessedImage | None]:
    """Decode and validate ``data``; on success return the stored JPEG and hashes."""
    if not data:
        return Verdict.drop("empty_body"), None
    try:
        head = _header(data, rules)
    except Image.DecompressionBombError as e:
        return Verdict.drop("decompression_bomb", str(e)[:200]), None
    except Exception as e:  # Pillow raises many types for bad input
        return Verdict.drop("undecodable", f"{type(e).__name__}: {e}"[:200]), None
    w, h = head.size
    if head.format not in ACCEPTED_FORMATS:
        return Verdict.drop("unsupported_format", head.format), None
    if min(w, h) < rules.min_side:
        return Verdict.drop("too_small", f"{w}x{h}"), None
    if max(w, h) / min(w, h) > rules.max_aspect:
        return Verdict.drop("extreme_aspect_ratio", f"{w}x{h}"), None
    scale = rules.target_scale(w, h)
    try:
        pixels = _decode(data, head, scale)
    except Exception as e:
        return Verdict.drop("undecodable", f"{type(e).__name__}: {e}"[:200]), None
    stored = _bgr(_on_white(_resized(pixels.array, (w, h), rules)), pixels.rgb)
    ok, jpeg = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, rules.jpeg_quality])
    if not ok:
        return Verdict.drop("undecodable", "could not re-encode"), None
    return Verdict.ok(), ProcessedImage(
        jpeg=jpeg.tobytes(), format=head.format, width=w, height=h,
        sha256=hashlib.sha256(data).hexdigest(), phash=phash(stored))
