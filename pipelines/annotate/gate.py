"""Text-presence gate: a cheap text-detection pass, so recognition runs only where text is.

Most web images carry no text, and OCR spends most of its time finding that out (EasyOCR's
CRAFT detector runs at the image's full size). The gate runs PP-OCR's small detector and
recogniser (ONNX, shipped in the ``rapidocr`` wheel, so no download) on the image scaled to
``side`` on its long side, and says whether any box reads as at least ``min_chars`` letters or
digits with confidence ``min_score``. The recognition step matters: the detector alone fires on
the edges of plain shapes and textures (it flagged 13 of 20 text-free synthetic scenes; with
recognition, none). Whatever OCR backend follows reads only the images it lets through; the
others are recorded as not read (``ocr_ran`` false), counted in ``stats.json``, not silently
treated as textless.
"""
from __future__ import annotations

import dataclasses

import numpy as np


# Backends the gate runs before when GateConfig.enabled is None (the default). Not RapidOCR:
# its own first step is this same detector, at a higher resolution (short side scaled to 736),
# so the gate saves less there (2.4-2.7x on the benchmark's web mix) and loses the small text that
# only that resolution finds (over half the words RapidOCR read on the mix). Measured figures:
# docs/benchmarks.md.
GATED_BY_DEFAULT = frozenset({"easyocr", "tesseract"})


@dataclasses.dataclass(frozen=True)
class GateConfig:
    enabled: bool | None = None  # None → on before the backends in GATED_BY_DEFAULT
    side: int = 256  # the detector's input, long side in pixels (320 read no more words here)
    threshold: float = 0.3  # per-pixel text probability that makes a pixel text
    box_threshold: float = 0.5  # mean probability inside a box for the box to count
    min_score: float = 0.5  # recognition confidence of a box that counts as text
    min_chars: int = 2  # letters or digits in it


def gate_enabled(config: GateConfig, backend: str) -> bool:
    return config.enabled if config.enabled is not None else backend in GATED_BY_DEFAULT


class TextGate:
    """``has_text(image)`` for RGB arrays."""

    def __init__(self, config: GateConfig = GateConfig()):
        from rapidocr import RapidOCR

        self.config = config
        self.engine = RapidOCR(params={
            "Global.log_level": "critical",
            "Det.limit_side_len": config.side, "Det.limit_type": "max",
            "Det.thresh": config.threshold, "Det.box_thresh": config.box_threshold})

    def has_text(self, image: np.ndarray) -> bool:
        bgr = np.ascontiguousarray(image[..., ::-1])  # RapidOCR expects OpenCV's BGR
        found = self.engine(bgr, use_cls=False)
        return any(score >= self.config.min_score
                   and sum(c.isalnum() for c in text) >= self.config.min_chars
                   for text, score in zip(found.txts or (), found.scores or ()))


class GatedOcr:
    """An OCR backend behind the gate: ``read`` → lines, or None where the gate saw no text."""

    def __init__(self, backend, gate: TextGate):
        self.backend, self.gate = backend, gate

    def read(self, image: np.ndarray):
        return self.backend.read(image) if self.gate.has_text(image) else None
