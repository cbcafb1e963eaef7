"""The top-k% cut is global: the kept set does not depend on how the input is bundled."""
import dataclasses
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.score.cut import TopFraction, threshold_index


@dataclasses.dataclass(frozen=True)
class Scored:
    pair_id: str
    score: float
    image_url: str = ""


def _pairs(n=2000, seed=0):
    rng = random.Random(seed)
    # Scores cluster by chunk, so a per-bundle cut would keep a visibly different set.
    return [Scored(f"{i:05d}", round(rng.random() * 0.5 + (i // 200) * 0.05, 3)) for i in range(n)]


def _exact_top(pairs, fraction):
    ranked = sorted(pairs, key=lambda p: (p.score, p.pair_id), reverse=True)
    return sorted(p.pair_id for p in ranked[: int(fraction * len(pairs))])


def _kept_ids(bundles, fraction=0.1):
    with BeamTestPipeline() as p:
        parts = [p | f"Bundle{i}" >> beam.Create(b) for i, b in enumerate(bundles)]
        pairs = parts | beam.Flatten() if len(parts) > 1 else parts[0]
        kept, rejected, _ = pairs | TopFraction(fraction)
        ids = kept | beam.Map(lambda x: x.pair_id)
        total = (kept, rejected) | "Both" >> beam.Flatten() | beam.combiners.Count.Globally()
        assert_that(ids, equal_to(_exact_top(sum(bundles, []), fraction)), label="KeptIsTop")
        assert_that(total, equal_to([sum(len(b) for b in bundles)]), label="NothingLost")


def test_one_bundle_and_many_bundles_keep_the_same_global_top():
    pairs = _pairs()
    _kept_ids([pairs])
    _kept_ids([pairs[i:i + 200] for i in range(0, len(pairs), 200)])


def test_a_per_bundle_cut_would_differ():
    """Guards the test above: with this data, cutting each bundle alone gives another set."""
    pairs = _pairs()
    per_bundle = sorted(sum((_exact_top(pairs[i:i + 200], 0.1) for i in range(0, 2000, 200)), []))
    assert per_bundle != _exact_top(pairs, 0.1)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_bad_fraction_rejected(fraction):
    with pytest.raises(ValueError):
        threshold_index(fraction)
