"""Beam transform of the annotate stage: text gate and OCR, then language ID of alt text,
context text and OCR text."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference

from pipelines.annotate.gate import GateConfig
from pipelines.annotate.handlers import AnnotateError, LangIdHandler, OcrHandler
from pipelines.annotate.langid_model import LangIdConfig
from pipelines.annotate.ocr import OcrConfig
from pipelines.beam_util import dead_letters_to_rejections, split_errors


class Annotate(beam.PTransform):
    """Image records → (annotated pairs, rejections of stage "annotate")."""

    def __init__(self, ocr: OcrConfig = OcrConfig(), langid: LangIdConfig = LangIdConfig(),
                 gate: GateConfig = GateConfig()):
        super().__init__()
        self.ocr, self.langid, self.gate = ocr, langid, gate

    def expand(self, records):
        ocr_out, ocr_dlq = records | "OCR" >> RunInference(
            OcrHandler(self.ocr, self.gate)).with_exception_handling()
        read, ocr_errors = split_errors(ocr_out, "OcrErrors", AnnotateError, "annotate")
        pairs, lid_dlq = read | "LangId" >> RunInference(
            LangIdHandler(self.langid)).with_exception_handling()
        rejects = (
            ocr_errors,
            dead_letters_to_rejections(ocr_dlq, "OcrBatchFailed", "annotate", "ocr_batch_error"),
            dead_letters_to_rejections(lid_dlq, "LangIdBatchFailed", "annotate",
                                       "langid_batch_error", record_of=lambda item: item[0]),
        ) | "AnnotateRejects" >> beam.Flatten()
        return pairs, rejects
