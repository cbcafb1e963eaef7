"""Image validation and normalisation: decode, check, resize, hash. Pure (no Beam)."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import warnings

import imagehash
from PIL import Image, ImageOps

from quality_filters.verdict import Verdict

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


RESIZE_MODES = ("keep_ratio", "keep_ratio_largest", "center_crop", "none")


@dataclasses.dataclass(frozen=True)
class ImageRules:
    """What an acceptable image is, and how it is stored.

    Resize modes, named as in img2dataset: ``keep_ratio`` (the short side becomes
    ``image_size``), ``keep_ratio_largest`` (the long side does), ``center_crop`` (short side,
    then the centred square), ``none`` (stored re-encoded at full size). Images are never
    enlarged. JPEGs are decoded at a reduced scale (libjpeg's DCT scaling, Pillow's ``draft``)
    when the stored size allows it, which is most of the decoding cost saved.
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


def _decode(data: bytes, rules: ImageRules) -> tuple[Image.Image, str, tuple[int, int]]:
    """→ (decoded image, format, original size as displayed); raises on bad input."""
    img = Image.open(io.BytesIO(data))  # reads the header only
    w, h = img.size
    if w * h > rules.max_pixels:
        raise Image.DecompressionBombError(
            f"{w}x{h} exceeds the limit of {rules.max_pixels} pixels")
    fmt = img.format or ""
    if fmt in ACCEPTED_FORMATS:
        if img.getexif().get(EXIF_ORIENTATION) in ROTATED:
            w, h = h, w
        scale = rules.target_scale(w, h)
        if scale < 1 and fmt == "JPEG":  # draft size is in file orientation, hence img.size
            img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        img.load()  # full decode: truncated files raise here instead of decoding to grey
    return img, fmt, (w, h)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Transparent pixels become white (not the black or noise hidden under the alpha)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    return img.convert("RGB")


def _resized(img: Image.Image, rules: ImageRules) -> Image.Image:
    scale = rules.target_scale(*img.size)
    if scale < 1:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        # Bilinear (Pillow scales its support with the factor, so it is a proper area filter):
        # as sharp as bicubic at the ≤ 2x left after draft decoding, and a third cheaper.
        img = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if rules.resize_mode == "center_crop" and img.width != img.height:
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    return img


def process_image(data: bytes, rules: ImageRules = ImageRules()) -> tuple[Verdict, ProcessedImage | None]:
    """Decode and validate ``data``; on success return the stored JPEG and hashes."""
    if not data:
        return Verdict.drop("empty_body"), None
    try:
        img, fmt, (w, h) = _decode(data, rules)
    except Image.DecompressionBombError as e:
        return Verdict.drop("decompression_bomb", str(e)[:200]), None
    except Exception as e:  # Pillow raises many types for bad input
        return Verdict.drop("undecodable", f"{type(e).__name__}: {e}"[:200]), None
    if fmt not in ACCEPTED_FORMATS:
        return Verdict.drop("unsupported_format", fmt), None
    if min(w, h) < rules.min_side:
        return Verdict.drop("too_small", f"{w}x{h}"), None
    if max(w, h) / min(w, h) > rules.max_aspect:
        return Verdict.drop("extreme_aspect_ratio", f"{w}x{h}"), None
    img = _resized(_to_rgb(ImageOps.exif_transpose(img)), rules)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=rules.jpeg_quality)
    return Verdict.ok(), ProcessedImage(
        jpeg=out.getvalue(), format=fmt, width=w, height=h,
        sha256=hashlib.sha256(data).hexdigest(), phash=str(imagehash.phash(img)))
