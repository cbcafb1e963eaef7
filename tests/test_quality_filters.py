import hashlib
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
    verdict, image = process_image(data, ImageRules(image_size=384))
    assert verdict.keep
    assert (image.width, image.height, image.format) == (1000, 500, "JPEG")
    stored = Image.open(io.BytesIO(image.jpeg))
    assert stored.size == (384, 192)
    assert image.sha256 == hashlib.sha256(data).hexdigest()  # of the bytes as served


def test_phash_is_imagehashs_on_real_photos(test_data):
    """The stored image's pHash against imagehash.phash of the stored JPEG, on real COCO photos.
    imagehash shrinks to 32x32 with Lanczos, phash area-averages, so a few bits may differ:
    on all 79 photos of the set, 63 hashes were equal and 16 were 2 bits apart."""
    import imagehash

    from quality_filters.dedup import hamming

    photos = sorted((test_data / "captions" / "coco-mini-val2017").rglob("*.jpg"))[:8]
    distances = []
    for path in photos:
        verdict, image = process_image(path.read_bytes(), ImageRules(image_size=384))
        reference = str(imagehash.phash(Image.open(io.BytesIO(image.jpeg))))
        distances.append(hamming(image.phash, reference))
    assert len(distances) == 8 and max(distances) <= 2, distances


def test_robots_directives():
    assert parse_directives("noindex, NoAI") == {"noindex", "noai"}
    assert parse_directives("googlebot: noimageai") == {"noimageai"}
    assert opts_out_of_ai("", "noimageai")
    assert not opts_out_of_ai("noindex, nofollow", "")


@pytest.mark.parametrize("mode,stored", [
    ("keep_ratio", (512, 256)),  # short side → 256
    ("keep_ratio_largest", (256, 128)),  # long side → 256
    ("center_crop", (256, 256)),
    ("none", (1000, 500)),
])
def test_resize_modes(mode, stored):
    verdict, image = process_image(_jpeg((1000, 500)), ImageRules(image_size=256, resize_mode=mode))
    assert verdict.keep and (image.width, image.height) == (1000, 500)
    assert Image.open(io.BytesIO(image.jpeg)).size == stored


def test_small_image_never_enlarged():
    _, image = process_image(_jpeg((100, 80)), ImageRules(image_size=256, resize_mode="keep_ratio"))
    assert Image.open(io.BytesIO(image.jpeg)).size == (100, 80)


def test_unknown_resize_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="resize_mode"):
        ImageRules(resize_mode="stretch")


def test_progressive_jpeg_and_exif_rotation():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: displayed as 400 wide, 1200 high
    Image.effect_noise((1200, 400), 40).convert("RGB").save(
        out, format="JPEG", progressive=True, exif=exif)
    verdict, image = process_image(out.getvalue(), ImageRules(image_size=300,
                                                              resize_mode="keep_ratio_largest"))
    assert verdict.keep and (image.width, image.height) == (400, 1200)
    assert Image.open(io.BytesIO(image.jpeg)).size == (100, 300)


def test_transparent_png_stored_on_white():
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # fully transparent black
    out = io.BytesIO()
    img.save(out, format="PNG")
    _, image = process_image(out.getvalue())
    pixel = Image.open(io.BytesIO(image.jpeg)).convert("RGB").getpixel((50, 50))
    assert min(pixel) >= 250, pixel  # every channel: (255, 0, 0) would not be white


def test_truncated_progressive_jpeg_rejected_with_draft():
    out = io.BytesIO()
    Image.effect_noise((1600, 1200), 40).convert("RGB").save(out, format="JPEG", progressive=True)
    verdict, _ = process_image(out.getvalue()[: len(out.getvalue()) // 2],
                               ImageRules(image_size=256))
    assert verdict.reason == "undecodable"


def _photo(size=(240, 160)) -> Image.Image:
    """A smooth picture (gradients), so that decoders and resizers agree closely."""
    import numpy as np

    x, y = np.meshgrid(np.linspace(0, 255, size[0]), np.linspace(0, 255, size[1]))
    return Image.fromarray(np.dstack([x, y, 255 - x]).astype("uint8"))


def _stored(image) -> "np.ndarray":
    import numpy as np

    return np.asarray(Image.open(io.BytesIO(image.jpeg)).convert("RGB"), dtype=float)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("junk", [b"", b"trailing bytes"])
def test_exif_orientations_match_pillow(orientation, junk):
    """Every EXIF orientation is displayed as Pillow's exif_transpose does, whether OpenCV
    decodes the file or (trailing bytes after the end marker) Pillow does."""
    from PIL import ImageOps
    import numpy as np

    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    _photo().save(out, format="JPEG", quality=95, exif=exif)
    data = out.getvalue() + junk
    verdict, image = process_image(data, ImageRules(resize_mode="none"))
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"), float)
    got = _stored(image)
    assert verdict.keep and got.shape == want.shape
    assert np.abs(got - want).mean() < 3


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "P", "1", "I;16", "CMYK"])
def test_modes_decode_like_pillow(mode):
    """The fast decoders (OpenCV, imagecodecs) and Pillow's fallback (CMYK, 16-bit) store the
    same picture, transparency on white."""
    import numpy as np

    img = _photo()
    if mode in ("RGBA", "LA"):
        alpha = Image.linear_gradient("L").resize(img.size)
        img = img.convert(mode[:-1]).convert(mode)
        img.putalpha(alpha)
    elif mode == "P":
        img = img.quantize(64, dither=Image.Dither.NONE)
    elif mode == "1":
        img = img.convert("1", dither=Image.Dither.NONE)
    elif mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257)
    else:
        img = img.convert(mode)
    out = io.BytesIO()
    img.save(out, format="JPEG" if mode == "CMYK" else "PNG")
    verdict, image = process_image(out.getvalue(), ImageRules(image_size=120))
    reference = Image.open(io.BytesIO(out.getvalue()))
    if "A" in mode:
        white = Image.new("RGBA", reference.size, (255, 255, 255, 255))
        reference = Image.alpha_composite(white, reference.convert("RGBA"))
    if mode == "I;16":
        reference = Image.fromarray((np.asarray(reference) // 257).astype(np.uint8))
    want = np.asarray(reference.convert("RGB").resize((120, 80), Image.Resampling.BOX), float)
    assert verdict.keep and np.abs(_stored(image) - want).mean() < 4


@pytest.mark.parametrize("mode", ["RGB", "P", "L"])
def test_png_transparent_colour_stored_on_white(mode):
    """A PNG whose tRNS chunk makes one colour (or palette entry) transparent: that colour is
    stored white, the rest as it is."""
    import numpy as np

    pixels = np.zeros((200, 300, 3), np.uint8)
    pixels[:, :150] = (200, 200, 200)  # left half opaque grey, right half the transparent black
    img = Image.fromarray(pixels)
    img = img.convert("L") if mode == "L" else img.quantize(4) if mode == "P" else img
    transparency = img.getpixel((299, 0)) if mode == "P" else 0 if mode == "L" else (0, 0, 0)
    out = io.BytesIO()
    img.save(out, format="PNG", transparency=transparency)
    verdict, image = process_image(out.getvalue(), ImageRules(resize_mode="none"))
    stored = _stored(image)
    assert verdict.keep
    assert np.abs(stored[:, :140] - 200).max() < 8 and stored[:, 160:].min() > 245


def test_gif_first_frame_and_webp_kept():
    frames = [_photo(), Image.new("RGB", (240, 160), (0, 0, 0))]
    gif, webp = io.BytesIO(), io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    _photo().save(webp, format="WEBP")
    for data, fmt in ((gif.getvalue(), "GIF"), (webp.getvalue(), "WEBP")):
        verdict, image = process_image(data, ImageRules(resize_mode="none"))
        assert verdict.keep and image.format == fmt
        assert _stored(image).mean() > 60  # the picture, not the black second frame


def test_truncated_png_rejected():
    out = io.BytesIO()
    _photo((600, 400)).save(out, format="PNG")
    verdict, _ = process_image(out.getvalue()[:-200])
    assert verdict.reason == "undecodable"


def test_phash_equals_imagehash_on_the_same_32px_image():
    import imagehash
    import numpy as np

    from quality_filters.image import phash

    rng = np.random.default_rng(0)
    for _ in range(200):
        small = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        assert phash(small) == str(imagehash.phash(Image.fromarray(small)))


def test_phash_area_average_equals_opencvs():
    """phash's 32x32 means (from the integral image) are OpenCV's INTER_AREA means, unrounded,
    for sizes that divide by 32 and sizes that do not, small and large."""
    import cv2
    import numpy as np

    from quality_filters.image import _grey_32

    rng = np.random.default_rng(1)
    for shape in [(32, 32), (33, 40), (256, 341), (341, 256), (256, 1024), (3001, 2000),
                  (4100, 2100)]:  # the last one past int32 sums
        grey = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = cv2.resize(grey.astype(np.float64), (32, 32), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(_grey_32(grey), expected, atol=1e-4)


def test_png_with_a_bad_colour_profile_decodes_without_libpng_noise(caplog):
    """libpng warns about a malformed iCCP profile (common on the web; imagecodecs logs it as a
    warning); the chunk is dropped before libpng decodes, so a crawl's log is not flooded."""
    import imagecodecs

    profile = bytearray(132)
    profile[0:4] = (132).to_bytes(4, "big")
    profile[36:40] = b"acsp"
    profile[64:68] = (0x1000000).to_bytes(4, "big")  # an invalid rendering intent
    out = io.BytesIO()
    _photo().save(out, format="PNG", icc_profile=bytes(profile))
    imagecodecs.png_decode(out.getvalue())
    assert "iCCP" in caplog.text  # what the raw decoder reports
    caplog.clear()
    verdict, image = process_image(out.getvalue())
    assert verdict.keep and image.format == "PNG"
    assert caplog.text == ""


def test_hidden_colour_under_transparency_does_not_bleed_when_shrinking():
    """Opaque red beside transparent pixels: whatever colour is hidden under the transparency
    (black here, white there), a 4x shrink stores the same picture."""
    import numpy as np

    stored = []
    for hidden in (0, 255):
        rgba = np.full((400, 400, 4), hidden, np.uint8)
        rgba[..., 3] = 0
        rgba[:, :201] = (255, 0, 0, 255)
        out = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(out, format="PNG")
        verdict, image = process_image(out.getvalue(), ImageRules(image_size=100))
        assert verdict.keep
        stored.append(_stored(image))
    assert np.abs(stored[0] - stored[1]).max() <= 2


def test_16_bit_colour_png_stored_like_its_8_bit_version():
    import cv2
    import numpy as np

    bgra8 = cv2.cvtColor(np.asarray(_photo()), cv2.COLOR_RGB2BGRA)
    bgra8[:, :100, 3] = 128  # half transparent on the left
    stored = []
    for pixels in (bgra8, bgra8.astype(np.uint16) * 257):
        verdict, image = process_image(cv2.imencode(".png", pixels)[1].tobytes(),
                                       ImageRules(resize_mode="none"))
        assert verdict.keep
        stored.append(_stored(image))
    assert np.abs(stored[0] - stored[1]).max() <= 2 and stored[0][:, :90].min() > 100


def test_bmp_is_kept_and_decoded_like_pillow():
    import numpy as np

    out = io.BytesIO()
    _photo().save(out, format="BMP")
    verdict, image = process_image(out.getvalue(), ImageRules(resize_mode="none"))
    assert verdict.keep and (image.format, image.width, image.height) == ("BMP", 240, 160)
    assert np.abs(_stored(image) - np.asarray(_photo(), float)).mean() < 2  # JPEG's loss only


@pytest.mark.parametrize("fmt", ["TIFF", "PPM", "ICO"])
def test_formats_outside_the_accepted_list_are_unsupported_format(fmt):
    out = io.BytesIO()
    _photo((120, 100)).save(out, format=fmt)
    verdict, image = process_image(out.getvalue())
    assert (verdict.keep, verdict.reason, verdict.detail, image) == (
        False, "unsupported_format", fmt, None)
