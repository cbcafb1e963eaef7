"""Near-duplicate removal by pHash bands, within the corpus and against evaluation images."""
import dataclasses
import io
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipelines import synthetic
from pipelines.dedup.near import NearDedup, NearDedupConfig
from quality_filters.dedup import band_keys, hamming, image_phash
from schemas import ImageRecord


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _scene(seed: int) -> Image.Image:
    rng = random.Random(seed)
    return synthetic.render_scene(synthetic.random_scene(rng), (320, 240), rng)


def _record(pid: str, data: bytes) -> ImageRecord:
    return ImageRecord(pair_id=pid, page_url="http://site.test/", image_url=f"http://site.test/{pid}",
                       alt_text="x", image_bytes=data, image_format="JPEG", width=1, height=1,
                       sha256=pid, phash=image_phash(data))


def test_band_keys_find_every_pair_within_the_distance():
    rng = random.Random(0)
    for _ in range(200):
        a = rng.getrandbits(64)
        b = a ^ sum(1 << bit for bit in rng.sample(range(64), rng.randint(0, 7)))
        ha, hb = f"{a:016x}", f"{b:016x}"
        assert hamming(ha, hb) <= 7
        assert set(band_keys(ha)) & set(band_keys(hb))
    with pytest.raises(ValueError):
        band_keys("0" * 16, bands=7)


def test_near_duplicates_and_eval_images_removed(tmp_path):
    original = _scene(1)
    resized = original.resize((200, 150))
    records = [_record("a", _jpeg(original)), _record("b", _jpeg(resized, quality=60)),
               _record("c", _jpeg(_scene(2))), _record("d", _jpeg(_scene(3)))]
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    _scene(3).resize((256, 192)).save(eval_dir / "eval-0001.png")
    config = NearDedupConfig(eval_images=(str(eval_dir),))
    with BeamTestPipeline() as p:
        kept, rejected = p | beam.Create(records) | NearDedup(config)
        assert_that(kept | beam.Map(lambda r: r.pair_id), equal_to(["a", "c"]), label="Kept")
        assert_that(rejected | beam.Map(lambda r: (r.record_id, r.reason, r.detail)),
                    equal_to([("b", "near_duplicate", "of a"),
                              ("d", "eval_near_duplicate", "eval-0001.png")]), label="Rejected")


def test_exact_dedup_keeps_the_smallest_pair_id_whatever_the_order():
    """Three records with the same sha256, in each of three arrival orders (one group of bytes
    per order, in one pipeline): "a" is kept, the others are rejected naming it; a record with
    other bytes is untouched."""
    from pipelines.dedup.transforms import ExactDedup
    from schemas import Rejection

    base = _record("x", _jpeg(_scene(1)))
    orders = [("c", "a", "b"), ("b", "c", "a"), ("a", "b", "c")]
    records = [dataclasses.replace(base, pair_id=f"{k}{pid}", sha256=str(k) * 64)
               for k, order in enumerate(orders) for pid in order]
    records.append(dataclasses.replace(base, pair_id="0-other", sha256="f" * 64))
    with BeamTestPipeline() as p:
        kept, rejected = p | beam.Create(records) | ExactDedup()
        assert_that(kept | beam.Map(lambda r: r.pair_id), equal_to(["0a", "1a", "2a", "0-other"]),
                    label="Kept")
        assert_that(rejected | beam.Map(lambda r: (r.record_id, r.reason, r.detail)),
                    equal_to([(f"{k}{pid}", "duplicate_sha256", f"same bytes as {k}a")
                              for k in range(3) for pid in ("b", "c")]), label="Rejected")
        assert_that(rejected | "Types" >> beam.Map(type), equal_to([Rejection] * 6), label="Types")
