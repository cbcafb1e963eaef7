"""The OCR backends, offline, reading words rendered into an image."""
import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFont

from pipelines.annotate.ocr import OcrConfig, image_array, load_backend, tesseract_lines
from pipelines.synthetic import render_sign


@pytest.mark.slow
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


# Tesseract is left out above: it does not read these signs (their board sits on a backdrop of
# per-pixel noise); it reads clean web text such as buttons and banners, down to 11 px fonts.
@pytest.mark.slow
@pytest.mark.parametrize("text,font_px,pad", [("Book now", 11, 8), ("Summer Sale", 32, 24)])
def test_tesseract_reads_a_rendered_button(text, font_px, pad):
    font = ImageFont.load_default(size=font_px)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), (30, 90, 200))
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255))
    lines = load_backend(OcrConfig(backend="tesseract")).read(image_array(_jpeg(img)))
    assert [line.text for line in lines] == [text]
    box = lines[0].box  # in the given image's pixels, also when it was upscaled for Tesseract
    assert abs(box[0] - pad) <= 3 and abs(box[2] - (img.width - pad)) <= 3, box
    assert 0.3 <= lines[0].confidence <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["easyocr", "rapidocr", "tesseract"])
def test_blank_image_reads_nothing(name):
    backend = load_backend(OcrConfig(backend=name))
    assert backend.read(image_array(_jpeg(Image.new("RGB", (200, 120), (90, 140, 60))))) == []


def _jpeg(img):
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown OCR backend 'paddle'"):
        load_backend(OcrConfig(backend="paddle"))


def test_tesseract_words_grouped_into_lines():
    """A hand-made ``image_to_data`` dict: the page/block/line rows (conf -1) and words without a
    letter or digit are skipped, words of one line are joined, boxes are unions scaled back."""
    rows = [  # level, block, par, line, left, top, width, height, conf, text
        (1, 0, 0, 0, 0, 0, 400, 200, -1, ""),
        (5, 1, 1, 1, 20, 100, 60, 20, 90, "Genaxis"),
        (5, 1, 1, 1, 90, 96, 70, 26, 80, "Theatre"),
        (5, 1, 1, 1, 170, 100, 10, 20, 95, "—"),
        (5, 2, 1, 1, 40, 10, 50, 18, 70.5, "Carpark"),
        (5, 3, 1, 1, 300, 150, 30, 10, 12, "ee"),  # below min_confidence
    ]
    keys = ["level", "block_num", "par_num", "line_num", "left", "top", "width", "height", "conf",
            "text"]
    data = {k: [row[i] for row in rows] for i, k in enumerate(keys)}
    lines = tesseract_lines(data, min_confidence=0.3, scale=2.0)
    assert [(l.text, l.box, l.confidence) for l in lines] == [
        ("Carpark", [20.0, 5.0, 45.0, 5.0, 45.0, 14.0, 20.0, 14.0], 0.705),
        ("Genaxis Theatre", [10.0, 48.0, 80.0, 48.0, 80.0, 61.0, 10.0, 61.0], 0.85)]


def test_tesseract_language_errors(monkeypatch, tmp_path):
    import pytesseract

    assert load_backend(OcrConfig(backend="tesseract", languages=("en", "de"))).lang == "eng+deu"
    with pytest.raises(ValueError, match="no Tesseract language known for 'xx'"):
        load_backend(OcrConfig(backend="tesseract", languages=("en", "xx")))
    monkeypatch.setattr(pytesseract, "get_languages", lambda: ["eng", "osd"])
    with pytest.raises(ValueError, match="apt-get install tesseract-ocr-deu"):
        load_backend(OcrConfig(backend="tesseract", languages=("de",)))
    monkeypatch.undo()
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "tesseract"))
    with pytest.raises(RuntimeError, match="tesseract not found; run `make system-packages`"):
        load_backend(OcrConfig(backend="tesseract"))
