"""Beam ModelHandlers for language ID and OCR, run through RunInference.

RunInference batches the records, loads one model per worker process and sends a batch that
raises to its dead-letter output. The handlers also catch per-record failures, so one bad image
costs one record (an ``AnnotateError``), not its batch.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

from apache_beam.ml.inference.base import ModelHandler

from pipelines.annotate.gate import GateConfig, GatedOcr, TextGate, gate_enabled
from pipelines.annotate.langid_model import LangId, LangIdConfig
from pipelines.annotate.ocr import OcrConfig, image_array, load_backend
from schemas import AnnotatedPair, ImageRecord, OcrLine, extend


@dataclasses.dataclass(frozen=True)
class AnnotateError:
    """A record a handler could not process, with the error; becomes a Rejection."""

    record: Any
    reason: str
    detail: str


class OcrHandler(ModelHandler):
    """ImageRecord → (ImageRecord, OCR lines, or None where the text gate saw no text)."""

    def __init__(self, config: OcrConfig = OcrConfig(), gate: GateConfig = GateConfig(),
                 max_batch_size: int = 8):
        super().__init__()
        self.config, self.gate = config, gate
        self.max_batch_size = max_batch_size

    def load_model(self):
        backend = load_backend(self.config)
        gated = gate_enabled(self.gate, self.config.backend)
        return GatedOcr(backend, TextGate(self.gate)) if gated else backend

    def run_inference(self, batch: Sequence[ImageRecord], model, inference_args=None) -> Iterable:
        for record in batch:
            try:
                yield record, model.read(image_array(record.image_bytes))
            except Exception as e:  # one failing image must not fail its batch
                yield AnnotateError(record, "ocr_error", f"{type(e).__name__}: {e}"[:200])

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self.max_batch_size}


class LangIdHandler(ModelHandler):
    """(ImageRecord, OCR lines or None) → AnnotatedPair: alt text, context text and OCR text are each
    labelled on their own, all in one batched call to the model."""

    def __init__(self, config: LangIdConfig = LangIdConfig()):
        super().__init__()
        self.config = config

    def load_model(self):
        return LangId(self.config)

    def run_inference(self, batch, model, inference_args=None) -> Iterable:
        ocr_texts = [" ".join(line.text for line in lines or ()) for _, lines in batch]
        labels = model.predict([rec.alt_text for rec, _ in batch]
                               + [rec.context_text for rec, _ in batch] + ocr_texts)
        n = len(batch)
        for i, (record, lines) in enumerate(batch):
            yield to_annotated(record, lines, ocr_texts[i], labels[i], labels[n + i],
                               labels[2 * n + i])

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 512}


def to_annotated(record: ImageRecord, lines: list[OcrLine] | None, ocr_text: str,
                 alt_label: tuple[str, float], context_label: tuple[str, float],
                 ocr_label: tuple[str, float]) -> AnnotatedPair:
    """The annotated pair (``LangId.predict`` already labels an empty text "und"); ``lines``
    None means the text gate kept the image from OCR."""
    return extend(record, AnnotatedPair, lang=alt_label[0], lang_conf=alt_label[1],
                  ocr_lines=lines or [], ocr_text=ocr_text, ocr_lang=ocr_label[0],
                  context_lang=context_label[0], ocr_ran=lines is not None)
