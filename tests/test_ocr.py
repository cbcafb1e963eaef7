"""The OCR backends, offline, reading words rendered into an image."""
import io
import random

import pytest
from PIL import Image

from pipelines.annotate.ocr import OcrConfig, image_array, load_backend
from pipelines.synthetic import render_sign


@pytest.mark.parametrize("name", ["easyocr", "rapidocr"])
def test_backend_reads_a_rendered_word_offline(name):
    backend = load_backend(OcrConfig(backend=name))
    for word in ("COFFEE", "STATION"):
        img = render_sign(word, (360, 160), random.Random(1))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=90)
        lines = backend.read(image_array(out.getvalue()))
        assert [line.text.upper() for line in lines] == [word]
        assert len(lines[0].box) == 8 and 0.3 <= lines[0].confidence <= 1.0


@pytest.mark.parametrize("name", ["easyocr", "rapidocr"])
def test_blank_image_reads_nothing(name):
    backend = load_backend(OcrConfig(backend=name))
    assert backend.read(image_array(_jpeg(Image.new("RGB", (200, 120), (90, 140, 60))))) == []


def _jpeg(img):
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown OCR backend 'tesseract'"):
        load_backend(OcrConfig(backend="tesseract"))
