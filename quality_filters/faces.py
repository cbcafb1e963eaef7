"""Faces in images: found with OpenCV's bundled frontal-face Haar cascade, and blurred. Pure
(no Beam).

The cascade ships inside ``opencv-python-headless`` (``cv2.data.haarcascades``), so it runs
with no download; it finds frontal faces down to ``min_size`` pixels and misses profiles and
small faces (recall and precision on real COCO photos are in ``docs/safety.md``). A better
detector plugs in as any callable ``pixels (H, W, 3 BGR uint8) → boxes``.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

FACE_MODES = ("blur", "drop", "keep")
_CELLS = 6  # a blurred face keeps this many cells of colour across


@dataclasses.dataclass(frozen=True)
class FaceConfig:
    # Chosen on COCO photos at 512 px (docs/safety.md): the "alt2" cascade with a finer pyramid
    # found 11 of 26 faces against 2 for the default cascade at OpenCV's usual settings.
    cascade: str = "haarcascade_frontalface_alt2.xml"
    scale_factor: float = 1.05  # the cascade's image pyramid step
    min_neighbors: int = 3  # overlapping detections a face needs (higher: fewer false faces)
    min_size: int = 12  # pixels, at the detection size
    # A smaller image is enlarged to this long side before detection (boxes are mapped back):
    # of 26 faces in COCO photos stored at 384 px, 5 were found as stored and 7 enlarged (11
    # in the photos at full size): what is lost in the resize is lost.
    detect_size: int = 512
    margin: float = 0.15  # blurred area grows by this share of the box on each side


@functools.lru_cache(maxsize=4)
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"could not load OpenCV's face cascade from {path}")
    return cascade


def detect_faces(pixels: np.ndarray, config: FaceConfig = FaceConfig()) -> list[tuple[int, ...]]:
    """Face boxes (x, y, width, height) in a BGR or grey uint8 image."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels
    scale = max(1.0, config.detect_size / max(grey.shape))
    if scale > 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    found = _cascade(config.cascade).detectMultiScale(
        cv2.equalizeHist(grey), config.scale_factor, config.min_neighbors,
        minSize=(config.min_size, config.min_size))
    return [tuple(round(v / scale) for v in box) for box in found]


def blur_boxes(pixels: np.ndarray, boxes, margin: float = FaceConfig.margin) -> np.ndarray:
    """A copy of ``pixels`` with each box (grown by ``margin``) made unrecognisable: shrunk to
    ``_CELLS`` cells across and smoothed back up, so a large face is as unreadable as a small
    one (a Gaussian blur of a fixed size left large faces detectable)."""
    out = pixels.copy()
    h, w = pixels.shape[:2]
    for x, y, bw, bh in boxes:
        dx, dy = int(bw * margin), int(bh * margin)
        x0, y0, x1, y1 = max(0, x - dx), max(0, y - dy), min(w, x + bw + dx), min(h, y + bh + dy)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        small = cv2.resize(region, (_CELLS, _CELLS), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return out


def blur_faces_jpeg(jpeg: bytes, config: FaceConfig = FaceConfig(), detector=None,
                    quality: int = 90) -> tuple[bytes, int]:
    """(the JPEG with its faces blurred, the number of faces); the same bytes when none."""
    pixels = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ValueError("not a decodable image")
    boxes = (detector or functools.partial(detect_faces, config=config))(pixels)
    if not boxes:
        return jpeg, 0
    ok, out = cv2.imencode(".jpg", blur_boxes(pixels, boxes, config.margin),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not re-encode the blurred image")
    return out.tobytes(), len(boxes)
