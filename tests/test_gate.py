"""The text-presence gate: the real PP-OCR detector says whether an image has text."""
import random

import numpy as np
import pytest
from PIL import Image

from pipelines.annotate.gate import GateConfig, GatedOcr, TextGate
from pipelines.synthetic import random_scene, render_scene, render_sign


@pytest.mark.slow
def test_gate_sees_signs_and_web_sized_crops_not_plain_scenes():
    gate = TextGate()
    rng = random.Random(5)
    for word, size in (("OPEN", (360, 160)), ("Buy now", (120, 40)), ("SALE", (64, 32))):
        assert gate.has_text(np.asarray(render_sign(word, size, rng).convert("RGB"))), word
    for _ in range(10):  # the detector alone fires on most of these; recognition must not
        scene = render_scene(random_scene(rng), (384, 288), rng)
        assert not gate.has_text(np.asarray(scene.convert("RGB")))
    assert not gate.has_text(np.full((200, 300, 3), 127, np.uint8))


class _CountingBackend:
    def __init__(self):
        self.calls = 0

    def read(self, image):
        self.calls += 1
        return ["line"]


@pytest.mark.slow
def test_gated_ocr_reads_only_where_the_gate_sees_text():
    backend = _CountingBackend()
    ocr = GatedOcr(backend, TextGate(GateConfig()))
    blank = np.full((120, 200, 3), 200, np.uint8)
    sign = np.asarray(render_sign("HOTEL", (340, 150), random.Random(3)).convert("RGB"))
    assert ocr.read(blank) is None and backend.calls == 0
    assert ocr.read(sign) == ["line"] and backend.calls == 1


def test_gate_default_follows_the_backend():
    from pipelines.annotate.gate import gate_enabled

    assert gate_enabled(GateConfig(), "easyocr") and gate_enabled(GateConfig(), "tesseract")
    assert not gate_enabled(GateConfig(), "rapidocr")
    assert gate_enabled(GateConfig(enabled=True), "rapidocr")
    assert not gate_enabled(GateConfig(enabled=False), "easyocr")
