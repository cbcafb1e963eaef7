import io

import pytest
from PIL import Image

from quality_filters.image import ImageRules, process_image
from quality_filters.robots import opts_out_of_ai, parse_directives
from quality_filters.text import check_alt_text


def _png(size, color=(200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _jpeg(size) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize("alt,reason", [
    ("", "no_alt_text"),
    ("   \n ", "no_alt_text"),
    ("ab", "alt_text_too_short"),
    ("x" * 600, "alt_text_too_long"),
    ("Image", "placeholder_alt_text"),
    ("IMG_0042.JPG", "placeholder_alt_text"),
    ("a red square on a blue background", ""),
    ("красный квадрат", ""),
])
def test_alt_text_verdicts(alt, reason):
    verdict = check_alt_text(alt)
    assert verdict.keep == (reason == "")
    assert verdict.reason == reason


@pytest.mark.parametrize("data,reason", [
    (b"", "empty_body"),
    (b"<html><body>404</body></html>", "undecodable"),
    (_jpeg((300, 200))[:800], "undecodable"),  # truncated: must not decode into grey
    (_png((8, 8)), "too_small"),
    (_png((600, 40)), "extreme_aspect_ratio"),
])
def test_image_rejections(data, reason):
    verdict, image = process_image(data)
    assert (verdict.keep, verdict.reason, image) == (False, reason, None)


def test_decompression_bomb_rejected():
    verdict, _ = process_image(_png((3000, 3000)), ImageRules(max_pixels=1_000_000))
    assert verdict.reason == "decompression_bomb"


def test_image_kept_resized_and_hashed():
    data = _jpeg((1000, 500))
    verdict, image = process_image(data, ImageRules(store_long_side=384))
    assert verdict.keep
    assert (image.width, image.height, image.format) == (1000, 500, "JPEG")
    stored = Image.open(io.BytesIO(image.jpeg))
    assert stored.size == (384, 192)
    assert len(image.sha256) == 64 and len(image.phash) == 16


def test_robots_directives():
    assert parse_directives("noindex, NoAI") == {"noindex", "noai"}
    assert parse_directives("googlebot: noimageai") == {"noimageai"}
    assert opts_out_of_ai("", "noimageai")
    assert not opts_out_of_ai("noindex, nofollow", "")
