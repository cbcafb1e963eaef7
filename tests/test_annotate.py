"""The annotate stage in a Beam pipeline: real EasyOCR and lid.176; one bad image is one reject."""
import io
import random

import apache_beam as beam
import pytest
from PIL import Image
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.annotate.transforms import Annotate
from pipelines.synthetic import render_sign
from schemas import ImageRecord

pytestmark = pytest.mark.slow  # real EasyOCR and lid.176


def _record(pid: str, alt: str, jpeg: bytes, context: str = "") -> ImageRecord:
    return ImageRecord(pair_id=pid, page_url="http://site.test/", image_url=f"http://site.test/{pid}",
                       alt_text=alt, context_text=context, image_bytes=jpeg, image_format="JPEG",
                       width=1, height=1, sha256=pid, phash="0")


def _sign(word: str) -> bytes:
    out = io.BytesIO()
    render_sign(word, (340, 150), random.Random(3)).save(out, format="JPEG")
    return out.getvalue()


def _plain() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (128, 128, 120)).save(out, format="JPEG")
    return out.getvalue()


def test_annotate_labels_and_routes_a_failure_to_rejects():
    records = [
        _record("a", "un panneau dans la rue qui dit HOTEL", _sign("HOTEL"),
                context="Das Hotel liegt direkt am Bahnhof und hat einen schönen Garten."),
        _record("b", "уличная вывеска с надписью TAXI", _sign("TAXI")),
        _record("bad", "a sign", b"\xff\xd8 not really a jpeg"),
        _record("plain", "a plain grey concrete wall of the old house", _plain()),  # the text gate keeps it from OCR
    ]
    with BeamTestPipeline() as p:
        pairs, rejects = p | beam.Create(records) | Annotate()
        # One word is too little text for lid.176 to pass the confidence threshold: "und".
        # Alt text, context text (German for "a", none for "b") and OCR text each get a label.
        summary = pairs | beam.Map(
            lambda a: (a.pair_id, a.lang, a.context_lang, a.ocr_text.upper(), a.ocr_lang,
                       a.ocr_ran))
        assert_that(summary, equal_to([("a", "fr", "de", "HOTEL", "und", True),
                                       ("b", "ru", "und", "TAXI", "und", True),
                                       ("plain", "en", "und", "", "und", False)]),
                    label="Annotated")
        assert_that(rejects | beam.Map(lambda r: (r.record_id, r.stage, r.reason)),
                    equal_to([("bad", "annotate", "ocr_error")]), label="Rejected")
