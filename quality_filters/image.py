"""Image validation and normalisation: decode, check, resize, hash. Pure (no Beam)."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings

import imagehash
from PIL import Image, ImageOps

from quality_filters.verdict import Verdict

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


@dataclasses.dataclass(frozen=True)
class ImageRules:
    """What an acceptable image is, and how it is stored."""

    min_side: int = 32
    max_aspect: float = 4.0
    max_pixels: int = 40_000_000  # decompression-bomb limit
    store_long_side: int = 384  # resized (keep ratio, never enlarged) before storing
    jpeg_quality: int = 90


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


def _decode(data: bytes, rules: ImageRules) -> tuple[Image.Image, str]:
    img = Image.open(io.BytesIO(data))  # reads the header only
    if img.width * img.height > rules.max_pixels:
        raise Image.DecompressionBombError(
            f"{img.width}x{img.height} exceeds the limit of {rules.max_pixels} pixels")
    fmt = img.format or ""
    img.load()  # full decode: truncated files raise here instead of decoding to grey
    return img, fmt


def process_image(data: bytes, rules: ImageRules = ImageRules()) -> tuple[Verdict, ProcessedImage | None]:
    """Decode and validate ``data``; on success return the stored JPEG and hashes."""
    if not data:
        return Verdict.drop("empty_body"), None
    try:
        img, fmt = _decode(data, rules)
    except Image.DecompressionBombError as e:
        return Verdict.drop("decompression_bomb", str(e)[:200]), None
    except Exception as e:  # Pillow raises many types for bad input
        return Verdict.drop("undecodable", f"{type(e).__name__}: {e}"[:200]), None
    if fmt not in ACCEPTED_FORMATS:
        return Verdict.drop("unsupported_format", fmt), None
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    if min(w, h) < rules.min_side:
        return Verdict.drop("too_small", f"{w}x{h}"), None
    if max(w, h) / min(w, h) > rules.max_aspect:
        return Verdict.drop("extreme_aspect_ratio", f"{w}x{h}"), None
    img.thumbnail((rules.store_long_side, rules.store_long_side), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=rules.jpeg_quality)
    return Verdict.ok(), ProcessedImage(
        jpeg=out.getvalue(), format=fmt, width=w, height=h,
        sha256=hashlib.sha256(data).hexdigest(), phash=str(imagehash.phash(img)))
